"""Batch fixtures: small generated months, a database per module for the known-bad run."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from stack.batch.generate import generate
from stack.services.ephemeral import scratch_database
from stack.settings import Settings

# Small on purpose: enough rows for COPY and two PDF workers, quick on a busy 2-core machine.
MONTHS = "2025-01:2025-02"
ROWS = 300
PDFS = 4


def query(settings: Settings, statement: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(settings.postgres_conninfo()) as conn:
        return conn.execute(statement, params).fetchall()


def batch_settings(settings: Settings, root: Path) -> Settings:
    return settings.model_copy(
        update={
            "batch_incoming_dir": root / "incoming",
            "batch_rejected_dir": root / "rejected",
        }
    )


@pytest.fixture
def batch(settings: Settings, tmp_path: Path) -> Settings:
    """This test's settings with its own incoming and rejected directories, files generated."""
    configured = batch_settings(settings, tmp_path)
    generate(
        configured,
        months=MONTHS,
        rows_per_month=ROWS,
        pdfs_per_month=PDFS,
        seed=7,
        show_progress=False,
    )
    return configured


@pytest.fixture(scope="module")
def module_db(services, tmp_path_factory) -> Settings:
    """A database (and directories) shared by one module's tests: for one expensive run."""
    with scratch_database(services.settings) as configured:
        yield batch_settings(configured, tmp_path_factory.mktemp("batch"))
