"""`stack preview`: a recent window of PostgreSQL in DuckDB, summarised, queried and saved."""

from __future__ import annotations

from decimal import Decimal

import duckdb
import pytest

from stack.db import connect
from stack.errors import StackError
from stack.realtime.schema import ensure_schema as ensure_realtime_schema
from stack.warehouse.preview import pull_window, run_query, summaries
from tests.warehouse import sources


@pytest.fixture
def recent(settings):
    """Realtime payments 1..20 days old, batch lines 2 and 30 days old, a few failures."""
    with connect(settings, autocommit=True) as conn:
        sources.create_sources(conn)
        conn.execute(
            """
            INSERT INTO transactions_sink (transaction_id, account_id, customer_name, merchant,
                category, amount, currency, country, status, created_at, event_time, version,
                schema_version, kafka_partition, kafka_offset)
            SELECT md5('p' || d)::uuid, 'AC-1', 'Ann', 'Shop ' || (d % 3),
                   CASE WHEN d % 2 = 0 THEN 'grocery' ELSE 'travel' END, d * 10.25, 'EUR', 'FR',
                   CASE WHEN d = 4 THEN 'declined' ELSE 'captured' END,
                   now() - d * interval '1 day' - interval '1 hour',
                   now() - d * interval '1 day' - interval '1 hour', 1, 1, 0, d
            FROM generate_series(1, 20) AS d
            """
        )
        sources.write_csv_file(conn, "recent/ACC-r.csv", 1, range(1, 6), rejects=2)
        conn.execute(
            "UPDATE batch_transactions SET posted_date = CASE WHEN source_line < 4"
            " THEN current_date - 2 ELSE current_date - 30 END"
        )
        sources.add_dlq(conn, 3)
    return settings


def test_window_holds_only_recent_rows_and_summaries_add_up(recent):
    with pull_window(recent, days=7) as window:
        assert window.rows["transactions_sink"] == 6  # 1..6 days old
        assert window.rows["batch_transactions"] == 2  # source lines 2 and 3 (after the header)
        assert window.rows["transactions_dlq"] == 3 and window.rows["ingest_rejects"] == 2
        assert window.missing == []
        found = {summary.title: summary for summary in summaries(window)}
        by_category = {(row[0], row[1]): row for row in found["spend by category"].rows}
        # captured payments of days 2 and 6 (day 4 was declined); days 1, 3, 5
        assert by_category[("realtime", "grocery")][3:] == (2, Decimal("82.00"))
        assert by_category[("realtime", "travel")][3:] == (3, Decimal("92.25"))
        batch_spend = sum(row[4] for key, row in by_category.items() if key[0] == "batch")
        lines = sources.csv_rows("recent/ACC-r.csv", 1, range(1, 3))  # source lines 2, 3
        assert batch_spend == -sum(line[6] for line in lines if line[6] < 0)
        # realtime days 3, 6 and 2, 5 and 1 by merchant (d % 3), plus batch lines 1 and 2
        assert found["top 10 merchants by spend"].rows == [
            ("Shop 2", "EUR", 3, Decimal("146.77")),
            ("Shop 0", "EUR", 2, Decimal("92.25")),
            ("Shop 1", "EUR", 2, Decimal("48.26")),
        ]
        problems = {(row[0], row[1]): row[2] for row in found["dead letters and rejects"].rows}
        assert problems == {
            ("transactions_dlq", "missing_field"): 2,
            ("transactions_dlq", "not_json"): 1,
            ("ingest_rejects", "bad_date"): 2,
        }
        result = run_query(window, "SELECT count(*) FROM transactions_sink WHERE amount > 50;")
        assert result.rows == [(2,)]
        with pytest.raises(StackError, match="--sql failed"):
            run_query(window, "SELECT nope FROM transactions_sink")


def test_missing_tables_are_listed(settings):
    with connect(settings, autocommit=True) as conn:
        ensure_realtime_schema(conn)
    with pull_window(settings, days=1) as window:
        assert set(window.rows) == {
            "transactions_sink",
            "transactions_dlq",
            "merchant_minute_totals",
        }
        assert "batch_transactions" in window.missing


def test_cli_prints_queries_and_saves(recent, stack_cli, tmp_path):
    shown = stack_cli("preview", "--days", "7")
    assert shown.returncode == 0, shown.stderr
    for title in ("rows since", "spend by category", "top 10 merchants", "dead letters"):
        assert title in shown.stdout

    parquet = tmp_path / "out" / "spend.parquet"
    queried = stack_cli(
        "preview",
        "--days",
        "4",
        "--table",
        "transactions_sink",
        "--sql",
        "SELECT merchant, sum(amount) AS spend FROM transactions_sink GROUP BY 1 ORDER BY 1",
        "--out",
        str(parquet),
    )
    assert queried.returncode == 0, queried.stderr
    assert "Shop 1" in queried.stdout
    assert f"wrote 3 rows to {parquet}" in queried.stderr.replace("\n", "")
    saved = duckdb.sql(f"SELECT * FROM '{parquet}' ORDER BY 1").fetchall()
    assert saved == [
        ("Shop 0", Decimal("30.75")),
        ("Shop 1", Decimal("10.25")),
        ("Shop 2", Decimal("20.50")),
    ]

    csv = tmp_path / "dlq.csv"
    single = stack_cli(
        "preview",
        "--table",
        "transactions_dlq",
        "--out",
        str(csv),
        "--db",
        str(tmp_path / "window.duckdb"),
    )
    assert single.returncode == 0, single.stderr
    assert csv.read_text().splitlines()[0].startswith("dlq_id,topic,")
    assert len(csv.read_text().splitlines()) == 1 + 3
    kept = duckdb.connect(str(tmp_path / "window.duckdb"), read_only=True)
    assert kept.execute("SELECT count(*) FROM transactions_dlq").fetchall() == [(3,)]
    kept.close()

    for args, message in (
        (("--out", str(tmp_path / "x.txt")), "must end in .parquet or .csv"),
        (("--out", str(tmp_path / "x.csv")), "--out saves the result of --sql"),
        (("--sql", "SELECT nope"), "--sql failed"),
        (("--table", "nope"), "unknown source table(s): nope"),
    ):
        failed = stack_cli("preview", *args)
        assert failed.returncode == 1, (args, failed.stderr)
        assert message in failed.stderr and "Traceback" not in failed.stderr
