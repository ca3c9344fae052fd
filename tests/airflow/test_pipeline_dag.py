"""`stack_pipeline` run for real by `dag.test()`: files and Kafka events in, every table in
PostgreSQL and the warehouse out; rejected rows warn, they do not fail the run."""

from __future__ import annotations

import stack.jobs
from stack.db import connect
from stack.tables import SOURCE_NAMES
from tests.airflow.runs import run_dag
from tests.warehouse.helpers import assert_duckdb_equals_source


def test_ingest_consume_load_build_with_rejected_rows(dagbag, kafka, settings, task_env, caplog):
    stack.jobs.produce(settings, count=400, seed=5, bad_ratio=0.02)
    stack.jobs.generate_batch(
        settings, months="2026-01:2026-02", rows_per_month=60, pdfs_per_month=1, with_bad=True
    )
    task_env(settings)

    run = run_dag(dagbag, "stack_pipeline")

    assert run.state == "success", run.tasks
    assert set(run.tasks.values()) == {("success", 1)}
    assert run.xcom["ingest_batch"]["exit_code"] == 1  # bad rows and files: a warning
    assert "batch ingest rejected input" in caplog.text
    assert run.xcom["consume"]["messages"] == 400
    with connect(settings) as conn:
        rejects = conn.execute("SELECT count(*) FROM ingest_rejects").fetchall()[0][0]
        sink = conn.execute("SELECT count(*) FROM transactions_sink").fetchall()[0][0]
    assert rejects > 0 and sink > 0
    assert_duckdb_equals_source(settings, list(SOURCE_NAMES))
    assert run.xcom["dbt_build"]["success"]
    assert run.assets["raw.transactions_sink"]["rows"] == sink
