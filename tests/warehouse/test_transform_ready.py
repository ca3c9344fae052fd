"""`stack transform` needs every table dbt reads in the warehouse: a pipeline that has not run
yet (its tables still missing in PostgreSQL) must not block it."""

from __future__ import annotations

import pytest

from stack import jobs
from stack.errors import StackError
from stack.tables import tables_of


def test_batch_only_stack_loads_and_builds(settings):
    """Only the batch pipeline ran: the load creates the realtime tables (empty) first, and
    dbt builds every model on them."""
    jobs.generate_batch(settings, months="2025-01", rows_per_month=40, pdfs_per_month=2, seed=2)
    assert jobs.ingest_batch(settings, workers=1).exit_code == 0

    loaded = jobs.load_warehouse(settings)

    assert sorted(loaded.created) == sorted(t.name for t in tables_of("realtime"))
    built = jobs.transform(settings)
    assert built.success and built.failures == []


def test_transform_before_any_load_says_what_to_run(settings):
    with pytest.raises(StackError, match=r"no warehouse at .* yet: run `stack load` first"):
        jobs.transform(settings)
