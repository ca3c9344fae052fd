"""The real pipelines fill PostgreSQL (Kafka -> sink, CSV + PDF files -> tables), then the
warehouse loads it and dbt builds every model and passes every data test on that data."""

from __future__ import annotations

import duckdb
import pytest

from stack.batch.generate import generate
from stack.batch.ingest import ingest
from stack.db import connect
from stack.realtime.consumer import consume
from stack.realtime.producer import produce
from stack.tables import SOURCE_NAMES
from stack.warehouse.load import load
from stack.warehouse.transform import transform
from tests.warehouse.helpers import DBT_TIMEOUT as TIMEOUT
from tests.warehouse.helpers import assert_duckdb_equals_source


@pytest.mark.usefixtures("kafka")
def test_pipelines_then_load_then_dbt_build(settings, tmp_path):
    settings = settings.model_copy(
        update={
            "batch_incoming_dir": tmp_path / "incoming",
            "batch_rejected_dir": tmp_path / "rejected",
        }
    )
    produce(settings, count=3000, seed=11, bad_ratio=0.01)
    consume(settings, idle_timeout=1)
    generate(
        settings,
        months="2026-01:2026-02",
        rows_per_month=150,
        pdfs_per_month=2,
        seed=3,
        with_bad=True,
    )
    ingest(settings, workers=1)
    with connect(settings) as conn:
        counts = {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
            for table in SOURCE_NAMES
        }
    assert all(
        counts[t] > 0
        for t in (
            "transactions_sink",
            "transactions_dlq",
            "merchant_minute_totals",
            "batch_transactions",
            "documents",
            "document_line_items",
            "ingest_rejects",
        )
    )

    summary = load(settings)

    assert {item.table: item.rows for item in summary.tables} == counts
    assert_duckdb_equals_source(settings, list(SOURCE_NAMES))

    built = transform(settings, timeout=TIMEOUT, target_path=tmp_path / "dbt-target")

    assert built.success and set(built.counts["test"]) == {"pass"}
    con = duckdb.connect(str(settings.warehouse_duckdb_path), read_only=True)
    by_source = dict(
        con.execute("SELECT source, count(*) FROM marts.fct_transactions GROUP BY 1").fetchall()
    )
    documents = con.execute("SELECT count(*) FROM marts.mart_documents").fetchall()[0][0]
    con.close()
    assert by_source == {
        "realtime": counts["transactions_sink"],
        "batch": counts["batch_transactions"],
    }
    assert documents == counts["documents"]
