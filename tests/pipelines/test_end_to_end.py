"""`stack demo` and `stack ingest` as a user runs them: every pipeline, end to end, against the
session's real PostgreSQL and Kafka."""

from __future__ import annotations

import duckdb
import psycopg

from stack.batch.generate import generate
from stack.realtime.producer import produce


def count(settings, table: str) -> int:
    with psycopg.connect(settings.postgres_conninfo()) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]


def warehouse_count(settings, relation: str) -> int:
    with duckdb.connect(str(settings.warehouse_duckdb_path), read_only=True) as con:
        return con.execute(f"SELECT count(*) FROM {relation}").fetchall()[0][0]


def test_demo_runs_every_pipeline_and_is_idempotent(stack_cli, settings):
    first = stack_cli("demo", "--events", "3000", timeout=600)
    assert first.returncode == 0, first.stderr[-3000:]
    for step in (
        "services",
        "batch ingest",
        "realtime stream",
        "warehouse load",
        "dbt build",
    ):
        assert step in first.stdout
    # The stream says (in its step's summary) how long it waited once the last event was
    # written, and for what.
    assert "s after the last event was written" in first.stderr
    assert "for the window totals to catch up" in first.stderr
    sink, batch = count(settings, "transactions_sink"), count(settings, "batch_transactions")
    assert sink > 2000  # 3000 events: ~10% updates and 1% malformed
    assert batch == 3 * 2000  # three months of the demo's statements
    assert count(settings, "transactions_dlq") > 0
    assert count(settings, "documents") == 3 * 4
    facts = warehouse_count(settings, "marts.fct_transactions")
    assert facts == sink + batch

    again = stack_cli("demo", "--events", "3000", timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "15 skipped" in again.stdout  # the files were ingested already
    assert count(settings, "transactions_sink") == sink  # the same seed: the same transactions
    assert count(settings, "batch_transactions") == batch
    assert warehouse_count(settings, "marts.fct_transactions") == facts


def test_ingest_loads_files_and_drains_kafka_and_reports_rejects(stack_cli, settings):
    generate(
        settings,
        months="2025-01",
        rows_per_month=200,
        pdfs_per_month=2,
        seed=3,
        with_bad=True,
    )
    produced = produce(settings, count=500, seed=3)
    result = stack_cli("ingest", "--idle-timeout", "2", timeout=300)
    assert result.returncode == 1, result.stderr[-3000:]  # the known-bad files were rejected
    assert count(settings, "transactions_sink") == produced.unique_transactions
    assert count(settings, "batch_transactions") > 0
    assert count(settings, "ingest_rejects") > 0
    failed = count(settings, "ingest_files WHERE status = 'failed'")
    assert failed >= 8
    assert len(list(settings.batch_rejected_dir.rglob("*.reason.txt"))) == failed
