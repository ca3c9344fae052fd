"""Batch helpers: the size of the generated test months, and settings with their own folders."""

from __future__ import annotations

from pathlib import Path

from stack.settings import Settings

# Small on purpose: enough rows for COPY and two PDF workers, quick on a busy 2-core machine.
MONTHS = "2025-01:2025-02"
ROWS = 300
PDFS = 4


def batch_settings(settings: Settings, root: Path) -> Settings:
    return settings.model_copy(
        update={
            "batch_incoming_dir": root / "incoming",
            "batch_rejected_dir": root / "rejected",
        }
    )
