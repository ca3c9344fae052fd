"""`stack_pipeline` run for real by `dag.test()`: files and Kafka events in, every table in
PostgreSQL and the warehouse out; rejected rows warn, they do not fail the run."""

from __future__ import annotations

import stack.jobs
from stack.db import connect
from stack.tables import SOURCE_NAMES
from tests.airflow.runs import run_dag
from tests.realtime.helpers import send, with_injected_bug
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


def test_a_file_the_ingest_crashes_on_fails_the_task_without_retry(
    dagbag, settings, task_env, monkeypatch
):
    """A crash is not a reject: exit code 4 (the other files loaded) fails `ingest_batch` at
    once, naming the crash log, and nothing downstream runs on a half-understood input."""
    from stack.batch import csv_ingest

    stack.jobs.generate_batch(settings, months="2026-01", rows_per_month=20, pdfs_per_month=1)
    monkeypatch.setattr(csv_ingest, "check_text", lambda data: 1 / 0)  # a bug, not bad input
    task_env(settings)

    run = run_dag(dagbag, "stack_pipeline")

    assert run.state == "failed"
    assert run.tasks["ingest_batch"] == ("failed", 1)
    assert run.tasks["consume"][0] == "upstream_failed"
    with connect(settings) as conn:
        statuses = dict(conn.execute("SELECT kind, status FROM ingest_files").fetchall())
    assert statuses["csv"] == "error" and "failed" not in statuses.values()


def test_a_message_the_stack_fails_on_fails_consume_without_retry(
    dagbag, kafka, settings, task_env, monkeypatch
):
    """The same for a message: the writer child (a process of its own) fails on one message
    (tests/realtime/inject_bug), which is dead-lettered; `consume` fails, once."""
    stack.jobs.produce(settings, count=30, seed=8)
    send(settings, [(b"bug", b"{}")])
    stack.jobs.generate_batch(settings, months="2026-01", rows_per_month=10, pdfs_per_month=0)
    monkeypatch.setenv("PYTHONPATH", with_injected_bug())
    task_env(settings)

    run = run_dag(dagbag, "stack_pipeline")

    assert run.state == "failed"
    assert run.tasks["consume"] == ("failed", 1)
    assert run.tasks["ingest_batch"][0] == "success"
    with connect(settings) as conn:
        reasons = dict(conn.execute("SELECT reason, count(*) FROM transactions_dlq GROUP BY 1"))
        sink = conn.execute("SELECT count(*) FROM transactions_sink").fetchall()[0][0]
    assert reasons == {"internal_error": 1} and sink > 0
