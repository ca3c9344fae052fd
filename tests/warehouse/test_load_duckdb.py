"""`stack load` into the embedded DuckDB warehouse: exact copies, merges, refreshes, failures."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import uuid
from decimal import Decimal

import duckdb
import pytest
from psycopg import sql
from pydantic import SecretStr

from stack.db import connect
from stack.errors import StackError
from stack.settings import PROJECT_ROOT
from stack.tables import SOURCE_NAMES
from stack.warehouse.load import load
from tests.warehouse import sources
from tests.warehouse.helpers import (
    assert_duckdb_equals_source,
    compare_duckdb,
    duckdb_state,
    source_table,
)


@pytest.fixture
def seeded(settings):
    with connect(settings, autocommit=True) as conn:
        sources.seed(conn)
    return settings


def test_first_load_equals_source_with_exact_types(seeded):
    summary = load(seeded)

    assert_duckdb_equals_source(seeded, list(SOURCE_NAMES))
    loaded = {item.table: item.rows for item in summary.tables}
    for table in SOURCE_NAMES:
        assert loaded[table] == len(source_table(seeded, table)[1]) > 0, table
    con = duckdb.connect(str(seeded.warehouse_duckdb_path), read_only=True)
    types = dict(
        con.execute(
            "SELECT table_name || '.' || column_name, data_type FROM duckdb_columns() "
            "WHERE schema_name = 'raw'"
        ).fetchall()
    )
    total = con.execute("SELECT sum(amount) FROM raw.transactions_sink").fetchall()[0][0]
    con.close()
    assert types["transactions_sink.transaction_id"] == "UUID"
    assert types["transactions_sink.amount"] == "DECIMAL(12,2)"
    assert types["merchant_minute_totals.amount_sum"] == "DECIMAL(14,2)"
    assert types["document_line_items.quantity"] == "DECIMAL(12,3)"
    assert types["transactions_sink.updated_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["transactions_sink.schema_version"] == "SMALLINT"
    assert types["transactions_dlq.raw_payload"] == "BLOB"
    assert types["batch_transactions.posted_date"] == "DATE"
    with connect(seeded) as conn:
        assert total == conn.execute("SELECT sum(amount) FROM transactions_sink").fetchall()[0][0]
    assert isinstance(total, Decimal)
    state = duckdb_state(seeded.warehouse_duckdb_path)
    assert set(state) == set(SOURCE_NAMES)
    assert {value for value, _ in state.values()} == {summary.upper_bound}


def test_next_load_merges_updates_and_inserts_exactly(seeded):
    first = load(seeded)
    with connect(seeded, autocommit=True) as conn:
        changed = conn.execute(
            "SELECT count(*) FROM transactions_sink WHERE kafka_offset % 10 = 0"
        ).fetchall()[0][0]
        sources.change(conn)

    second = load(seeded)

    rows = {item.table: item.rows for item in second.tables}
    assert rows["transactions_sink"] == changed + 50  # updated + inserted, nothing else
    assert rows["transactions_dlq"] == 2
    assert rows["batch_transactions"] == 35 + 20  # the replaced file's rows + a new file
    assert rows["document_line_items"] == 2
    for item in second.tables:
        assert item.watermark_before == first.upper_bound
        assert item.watermark_after == second.upper_bound
    for table in SOURCE_NAMES:
        problems, extra = compare_duckdb(seeded, table)
        assert not problems, "\n".join(problems[:5])
        # Only what the batch replacement deleted in the source stays behind (staging drops it).
        expected_extra = {
            "batch_transactions": {(f"2026-09/ACC-a.csv#{n}",) for n in range(36, 41)},
            "ingest_rejects": {(1,), (2,)},
            "documents": {(sources.sha("2026-09/invoice-1.pdf@1"),)},
            "document_line_items": {(sources.sha("2026-09/invoice-1.pdf@1"), n) for n in (1, 2, 3)},
        }.get(table, set())
        assert extra == expected_extra, table


def test_load_with_nothing_new_changes_nothing(seeded):
    first = load(seeded)
    second = load(seeded)
    assert {item.status for item in second.tables} == {"unchanged"}
    assert second.rows == 0
    assert all(item.watermark_before == first.upper_bound for item in second.tables)
    assert_duckdb_equals_source(seeded, list(SOURCE_NAMES))


def test_new_source_columns_flow_with_exact_types(seeded):
    load(seeded)
    with connect(seeded, autocommit=True) as conn:
        conn.execute(
            """
            ALTER TABLE transactions_dlq
                ADD COLUMN note varchar(20), ADD COLUMN ratio numeric(38,10),
                ADD COLUMN score double precision, ADD COLUMN flag boolean,
                ADD COLUMN seen_local timestamp, ADD COLUMN at_time time,
                ADD COLUMN meta jsonb, ADD COLUMN tags text[], ADD COLUMN wait interval,
                ADD COLUMN big numeric, ADD COLUMN code char(3);
            UPDATE transactions_dlq SET note = 'n' || dlq_id,
                ratio = 1234567890123456789012345678.0123456789, score = 0.1, flag = true,
                seen_local = '2026-01-02 03:04:05.678901', at_time = '12:34:56',
                meta = '{"a": [1, 2]}', tags = '{x,y}', wait = '1 day 02:00:00',
                big = 123456789012345678901234567890123456789012.5, code = 'ab',
                updated_at = clock_timestamp()
            WHERE dlq_id = 1;
            """
        )
    summary = load(seeded, tables=["transactions_dlq"])
    assert [item.rows for item in summary.tables] == [1]
    con = duckdb.connect(str(seeded.warehouse_duckdb_path), read_only=True)
    types = dict(
        con.execute(
            "SELECT column_name, data_type FROM duckdb_columns() "
            "WHERE schema_name = 'raw' AND table_name = 'transactions_dlq'"
        ).fetchall()
    )
    row = con.execute(
        "SELECT note, ratio, score, flag, seen_local, at_time, meta, tags, wait, big, code "
        "FROM raw.transactions_dlq WHERE dlq_id = 1"
    ).fetchall()[0]
    untouched = con.execute(
        "SELECT count(*) FROM raw.transactions_dlq WHERE dlq_id <> 1 AND note IS NULL"
    ).fetchall()[0][0]
    con.close()
    assert types["ratio"] == "DECIMAL(38,10)"
    assert types["score"] == "DOUBLE"
    assert types["flag"] == "BOOLEAN"
    assert types["seen_local"] == "TIMESTAMP"
    assert types["at_time"] == "TIME"
    assert types["meta"] == "JSON"
    assert types["big"] == types["tags"] == types["wait"] == types["code"] == "VARCHAR"
    assert row[0] == "n1"
    assert row[1] == Decimal("1234567890123456789012345678.0123456789")
    assert row[2:4] == (0.1, True)
    assert str(row[4]) == "2026-01-02 03:04:05.678901"
    assert str(row[5]) == "12:34:56"
    assert json.loads(row[6]) == {"a": [1, 2]}
    assert row[7:] == (
        "{x,y}",
        "1 day 02:00:00",
        "123456789012345678901234567890123456789012.5",
        "ab ",
    )
    assert untouched == 4


def test_full_refresh_rebuilds_from_scratch(seeded):
    load(seeded)
    with connect(seeded, autocommit=True) as conn:
        sources.change(conn)
    load(seeded)
    con = duckdb.connect(str(seeded.warehouse_duckdb_path))
    con.execute("UPDATE raw.transactions_sink SET amount = 0")  # damage the warehouse copy
    con.close()

    summary = load(seeded, full_refresh=True)

    assert all(item.watermark_before is None for item in summary.tables)
    assert_duckdb_equals_source(seeded, list(SOURCE_NAMES))  # deleted rows are gone too
    state = duckdb_state(seeded.warehouse_duckdb_path)
    assert state["batch_transactions"][1] == len(source_table(seeded, "batch_transactions")[1])


def test_load_killed_mid_table_keeps_watermark_and_rerun_is_exact(seeded):
    """The process dies inside the DuckDB transaction of batch_transactions: the tables before
    it are committed with their new watermark, it and the later ones are untouched."""
    first = load(seeded)
    before = {t: source_table(seeded, t)[1] for t in SOURCE_NAMES}
    with connect(seeded, autocommit=True) as conn:
        sources.change(conn)
    child = textwrap.dedent(
        """
        import os, signal
        from stack.settings import load_settings
        from stack.warehouse.load import load

        def crash(event):
            if event.item == "batch_transactions" and event.kind == "progress":
                os.kill(os.getpid(), signal.SIGKILL)

        load(load_settings(), on_event=crash)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", child],
        env={**os.environ, **seeded.as_env()},
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == -signal.SIGKILL, result.stderr

    state = duckdb_state(seeded.warehouse_duckdb_path)
    order = list(SOURCE_NAMES)
    crashed = order.index("batch_transactions")
    for table in order[:crashed]:
        assert state[table][0] > first.upper_bound, table
    for table in order[crashed:]:
        assert state[table][0] == first.upper_bound, table
    # The interrupted table holds exactly what the first load put there.
    columns, _ = source_table(seeded, "batch_transactions")
    con = duckdb.connect(str(seeded.warehouse_duckdb_path), read_only=True)
    kept = con.execute(
        "SELECT transaction_id, amount FROM raw.batch_transactions ORDER BY 1"
    ).fetchall()
    con.close()
    pos = columns.index("amount")
    assert kept == [(row[0], row[pos]) for row in before["batch_transactions"]]

    rerun = load(seeded)

    assert {i.table: i.watermark_before for i in rerun.tables}[
        "batch_transactions"
    ] == first.upper_bound
    for table in SOURCE_NAMES:
        problems, _ = compare_duckdb(seeded, table)
        assert not problems, "\n".join(problems[:5])


def test_open_transaction_holds_the_watermark_back(seeded):
    """The case a plain max(updated_at) cursor gets wrong: a row written before a load but
    committed after it, with an older updated_at than rows the load saw."""
    load(seeded)
    with connect(seeded) as slow, connect(seeded, autocommit=True) as fast:
        slow.execute(
            "UPDATE transactions_sink SET amount = 999.99, updated_at ="
            " clock_timestamp() WHERE kafka_offset = 7"
        )
        started = slow.execute("SELECT now()").fetchall()[0][0]
        fast.execute(
            "UPDATE transactions_sink SET amount = 1.23, updated_at = clock_timestamp()"
            " WHERE kafka_offset = 8"
        )
        during = load(seeded, tables=["transactions_sink"])
        slow.commit()
    assert during.held_back_to == started
    assert during.upper_bound == started
    assert during.tables[0].rows == 0  # kafka_offset 8 waits too: it is newer than the bound

    after = load(seeded, tables=["transactions_sink"])

    assert after.tables[0].rows == 2
    assert_duckdb_equals_source(seeded, ["transactions_sink"])


def test_second_concurrent_load_is_refused(seeded):
    inside, release = threading.Event(), threading.Event()
    done: list = []

    def hold(event):
        if event.kind == "start" and event.item is not None:
            inside.set()
            release.wait(60)

    first = threading.Thread(
        target=lambda: done.append(load(seeded, tables=["transactions_dlq"], on_event=hold))
    )
    first.start()
    try:
        assert inside.wait(60)
        with pytest.raises(StackError, match=r"another load into duckdb .* is running"):
            load(seeded)
    finally:
        release.set()
        first.join()
    assert done[0].rows == 5  # the first load was not disturbed


def test_cli_load_summary_json_and_errors(seeded, stack_cli):
    result = stack_cli("load", "--json", "--tables", "transactions_sink,documents")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert [t["table"] for t in summary["tables"]] == ["transactions_sink", "documents"]
    assert summary["rows"] == 300 + 2

    human = stack_cli("load")
    assert human.returncode == 0, human.stderr
    assert "transactions_sink" in human.stdout and "rows in" in human.stderr

    bogus = stack_cli("load", "--tables", "nope")
    assert bogus.returncode == 1
    assert "unknown source table(s): nope" in bogus.stderr
    assert "Traceback" not in bogus.stderr

    holder = duckdb.connect(str(seeded.warehouse_duckdb_path))
    try:
        locked = stack_cli("load")
    finally:
        holder.close()
    assert locked.returncode == 1
    assert "cannot open the DuckDB warehouse" in locked.stderr
    assert "Traceback" not in locked.stderr


def test_status_section_reports_the_last_load(seeded):
    from stack.warehouse.status import warehouse_section

    assert warehouse_section(seeded) is None  # no warehouse yet
    summary = load(seeded)
    name, data = warehouse_section(seeded)
    assert name == "warehouse" and data["tables_loaded"] == len(SOURCE_NAMES)
    assert data["watermark"] == summary.upper_bound.isoformat(timespec="seconds")
    assert data["fct_transactions"] is None  # dbt has not run


def test_sessions_the_loader_cannot_see_make_it_fall_back_to_the_lag(seeded):
    """Another role's transaction is hidden from a loader without pg_read_all_stats: the bound
    falls back to WAREHOUSE_FALLBACK_LAG_SECONDS before now."""
    role = f"reader_{uuid.uuid4().hex[:8]}"
    with connect(seeded, autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'reader'").format(sql.Identifier(role))
        )
        admin.execute(
            sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}").format(
                sql.Identifier(role)
            )
        )
    reader = seeded.model_copy(
        update={
            "postgres_user": role,
            "postgres_password": SecretStr("reader"),
            "warehouse_fallback_lag_seconds": 3600,
        }
    )
    try:
        with connect(seeded) as writer:  # the superuser, in a transaction that has written
            writer.execute(
                "UPDATE transactions_sink SET amount = 1, updated_at ="
                " clock_timestamp() WHERE kafka_offset = 3"
            )
            now = writer.execute("SELECT clock_timestamp()").fetchall()[0][0]
            summary = load(reader, tables=["transactions_sink"])
            after = writer.execute("SELECT clock_timestamp()").fetchall()[0][0]
            writer.rollback()
    finally:
        with connect(seeded, autocommit=True) as admin:
            admin.execute(
                sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {}").format(
                    sql.Identifier(role)
                )
            )
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
    assert summary.unseen_sessions == 1
    lag = dt.timedelta(seconds=3600)
    assert now - lag <= summary.upper_bound <= after - lag
    assert summary.tables[0].rows == 0  # every row is younger than an hour
