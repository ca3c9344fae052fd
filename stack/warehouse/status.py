"""What `stack status` says about the warehouse: where, last load, watermark, marts."""

from __future__ import annotations

from stack.settings import Settings
from stack.warehouse.targets import get_target


def warehouse_section(settings: Settings) -> tuple[str, dict] | None:
    """None until a first load has created the warehouse (the target decides what to show)."""
    shown = get_target(settings).status()
    return None if shown is None else ("warehouse", shown)
