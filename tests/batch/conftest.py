"""Batch fixtures: small generated months, a database per module for the known-bad run."""

from __future__ import annotations

from pathlib import Path

import pytest

from stack.batch.generate import generate
from stack.services.ephemeral import scratch_database
from stack.settings import Settings
from tests.batch.helpers import MONTHS, PDFS, ROWS, batch_settings


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
    )
    return configured


@pytest.fixture(scope="module")
def module_db(services, tmp_path_factory) -> Settings:
    """A database (and directories) shared by one module's tests: for one expensive run."""
    with scratch_database(services.settings) as configured:
        yield batch_settings(configured, tmp_path_factory.mktemp("batch"))
