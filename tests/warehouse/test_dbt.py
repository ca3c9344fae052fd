"""The dbt project on the embedded DuckDB warehouse: one shared build, then incremental runs.

The tests in this module run in order on one warehouse (a dbt build takes seconds).
"""

from __future__ import annotations

import json
from decimal import Decimal

import duckdb
import pytest

from stack.db import connect
from stack.errors import StackError
from stack.warehouse.load import load
from stack.warehouse.transform import TransformError, run_dbt, transform
from tests.helpers import run_stack
from tests.warehouse import sources
from tests.warehouse.helpers import DBT_MODELS
from tests.warehouse.helpers import DBT_TIMEOUT as TIMEOUT

FACT_TO_ACCOUNTS = "relationships_fct_transactions_account_id__account_id__ref_dim_accounts_"
FACT_TO_MERCHANTS = (
    "relationships_fct_transactions_merchant_name__merchant_name__ref_dim_merchants_"
)


def warehouse(settings, query: str) -> list[tuple]:
    con = duckdb.connect(str(settings.warehouse_duckdb_path), read_only=True)
    try:
        return con.execute(query).fetchall()
    finally:
        con.close()


def source(settings, query: str) -> list[tuple]:
    with connect(settings) as conn:
        return conn.execute(query).fetchall()


@pytest.fixture(scope="module")
def built(module_settings, tmp_path_factory):
    settings = module_settings
    with connect(settings, autocommit=True) as conn:
        sources.seed(conn)
        sources.add_readable_dead_letters(conn)
    load(settings)
    target_path = tmp_path_factory.mktemp("dbt-target")
    summary = transform(settings, timeout=TIMEOUT, target_path=target_path)
    return settings, summary, target_path


def test_dbt_build_passes_every_data_test(built):
    _, summary, _ = built
    assert summary.success
    counts = summary.counts
    assert counts["model"] == {"success": DBT_MODELS}
    assert counts["seed"] == {"success": 1}
    assert set(counts["test"]) == {"pass"} and counts["test"]["pass"] >= 90
    tests = {r.name for r in summary.results if r.resource_type == "test"}
    assert "assert_marts_reconcile_with_sources" in tests
    assert {FACT_TO_ACCOUNTS, FACT_TO_MERCHANTS} <= tests
    assert any(name.startswith("accepted_values_fct_transactions") for name in tests)
    unit_tests = {r.name for r in summary.results if r.resource_type == "unit_test"}
    assert unit_tests == {
        "int_transactions__unioned.realtime_status_sets_direction_and_spend",
        "int_transactions__unioned.batch_sign_sets_direction_and_spend",
        "int_transactions__unioned.category_group_falls_back_to_the_category",
        "int_transactions__unioned.transaction_month_is_the_first_day_of_the_utc_month",
        "stg_realtime__dead_letters.dead_letters_decode_what_they_can",
    }
    assert counts["unit_test"] == {"pass": 5}


def test_marts_agree_with_the_source(built):
    settings, _, _ = built
    by_source = dict(
        warehouse(settings, "SELECT source, count(*) FROM marts.fct_transactions GROUP BY 1")
    )
    assert by_source == {
        "realtime": source(settings, "SELECT count(*) FROM transactions_sink")[0][0],
        "batch": source(settings, "SELECT count(*) FROM batch_transactions")[0][0],
    }
    # Monthly spend, computed straight from PostgreSQL with the same rules.
    expected = dict(
        ((account, month, currency), total)
        for account, month, currency, total in source(
            settings,
            """
        SELECT account_id, date_trunc('month', d)::date, currency, sum(spend) FROM (
            SELECT account_id, (created_at AT TIME ZONE 'UTC')::date AS d, upper(currency)
                   AS currency, amount AS spend
            FROM transactions_sink WHERE status IN ('authorized', 'captured')
            UNION ALL
            SELECT account_id, posted_date, upper(currency), -amount
            FROM batch_transactions WHERE amount < 0) AS s
        GROUP BY 1, 2, 3""",
        )
    )
    actual = dict(
        ((account, month, currency), total)
        for account, month, currency, total in warehouse(
            settings,
            "SELECT account_id, transaction_month, currency_code, "
            "sum(spend_amount) FROM marts.mart_monthly_spend "
            "GROUP BY 1, 2, 3",
        )
    )
    assert actual == expected
    documents = warehouse(
        settings,
        "SELECT file_path, line_items, line_items_amount, "
        "lines_match_total FROM marts.mart_documents ORDER BY 1",
    )
    assert documents == [
        ("2026-09/invoice-1.pdf", 3, Decimal("69.00"), True),
        ("2026-09/statement-a.pdf", 4, Decimal("115.00"), True),
    ]
    accounts = warehouse(settings, "SELECT seen_in, count(*) FROM marts.dim_accounts GROUP BY 1")
    assert dict(accounts) == {"realtime": 12, "batch": 2}
    groups = {
        row[0]
        for row in warehouse(settings, "SELECT DISTINCT category_group FROM marts.fct_transactions")
    }
    assert "groceries" in groups and "grocery" not in groups  # both vocabularies mapped
    letters = warehouse(
        settings,
        "SELECT kafka_offset, claimed_transaction_id, claimed_amount,"
        " payload_text IS NULL FROM staging.stg_realtime__dead_letters"
        " WHERE kafka_offset > 100 ORDER BY 1",
    )
    assert letters == [
        (101, "t-1", Decimal("12.50"), False),
        (102, "t-2", None, False),
        (103, None, None, True),
    ]


def test_reconciliation_test_catches_a_broken_mart(built):
    settings, _, target_path = built
    con = duckdb.connect(str(settings.warehouse_duckdb_path))
    con.execute(
        "UPDATE marts.mart_monthly_spend SET spend_amount = spend_amount + 0.01 "
        "WHERE monthly_spend_key = (SELECT min(monthly_spend_key) "
        "FROM marts.mart_monthly_spend)"
    )
    con.close()
    lines: list[str] = []
    code = run_dbt(
        settings,
        ["test", "--select", "assert_marts_reconcile_with_sources"],
        target_path=target_path,
        timeout=TIMEOUT,
        output=lines.append,
    )
    assert code == 1
    assert any("FAIL 1 assert_marts_reconcile_with_sources" in line for line in lines), lines


def test_incremental_run_follows_updates_inserts_and_replaced_files(built):
    settings, _, target_path = built
    with connect(settings, autocommit=True) as conn:
        sources.change(conn)  # updates, inserts, a replaced CSV (5 lines fewer), a new PDF
        sources.fail_file(conn, "2026-09/ACC-bb.csv", 2)  # a bad redelivery: old rows stay
    load(settings)
    # A mark on one unchanged row of each source (a column no test reads): the run must not
    # merge rows older than what the fact holds, so the marks stay.
    untouched = (
        f"(source = 'realtime' AND transaction_id = '{sources.realtime_id(1)}')"
        " OR (source = 'batch' AND transaction_id = '2026-09/ACC-bb.csv#1')"
    )
    con = duckdb.connect(str(settings.warehouse_duckdb_path))
    con.execute(
        f"UPDATE marts.fct_transactions SET category = 'not merged again' WHERE {untouched}"
    )
    con.close()

    summary = transform(settings, timeout=TIMEOUT, target_path=target_path)

    assert summary.success, [(r.name, r.message) for r in summary.failures]
    fct = {r.name: r for r in summary.results}["fct_transactions"]
    assert fct.status == "success"
    marks = warehouse(settings, f"SELECT category FROM marts.fct_transactions WHERE {untouched}")
    assert marks == [("not merged again",)] * 2
    by_source = dict(
        warehouse(settings, "SELECT source, count(*) FROM marts.fct_transactions GROUP BY 1")
    )
    assert by_source == {"realtime": 350, "batch": 35 + 30 + 20}
    gone = warehouse(
        settings,
        "SELECT count(*) FROM marts.fct_transactions WHERE transaction_id = '2026-09/ACC-a.csv#40'",
    )
    assert gone == [(0,)]
    raw = warehouse(settings, "SELECT count(*) FROM raw.batch_transactions")
    assert raw == [(90,)]  # raw keeps the replaced version's rows; the marts do not
    updated = warehouse(
        settings,
        "SELECT amount, status FROM marts.fct_transactions WHERE "
        "source = 'realtime' AND transaction_id = "
        "(SELECT md5('rt-10')::uuid::varchar)",
    )
    row = source(settings, "SELECT amount, status FROM transactions_sink WHERE kafka_offset = 10")
    assert updated == row
    invoice = warehouse(
        settings,
        "SELECT line_items, line_items_amount FROM marts.mart_documents"
        " WHERE file_path = '2026-09/invoice-1.pdf'",
    )
    assert invoice == [(2, Decimal("37.50"))]


def test_relationships_catch_a_fact_row_its_sources_no_longer_have(built):
    """The dimensions are built upstream of the fact, so the fact's relationships tests can
    fail: here a transaction (the only one of its account and merchant) is deleted at the
    source after it reached the incremental fact, and `stack load --full-refresh` clears it
    from raw. The fact keeps it, the dimensions (rebuilt from the sources) do not: `dbt
    build` fails on the relationships tests (and the reconciliation), and a full refresh of
    the models heals it. Built from the fact, the dimensions would keep the row and the
    relationships tests would pass."""
    settings, _, target_path = built
    with connect(settings, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO transactions_sink (transaction_id, account_id, customer_name, merchant,"
            " category, amount, currency, country, status, created_at, event_time, version,"
            " schema_version, kafka_partition, kafka_offset) VALUES (md5('rt-orphan')::uuid,"
            " 'AC-ORPHAN', 'Only Once', 'Merchant Orphan', 'grocery', 9.99, 'EUR', 'FR',"
            " 'captured', now(), now(), 1, 1, 0, 100000)"
        )
    load(settings)
    transform(settings, timeout=TIMEOUT, target_path=target_path)
    assert warehouse(
        settings, "SELECT count(*) FROM marts.dim_accounts WHERE account_id = 'AC-ORPHAN'"
    ) == [(1,)]

    with connect(settings, autocommit=True) as conn:
        conn.execute("DELETE FROM transactions_sink WHERE account_id = 'AC-ORPHAN'")
    load(settings, tables=["transactions_sink"], full_refresh=True)
    with pytest.raises(TransformError, match=FACT_TO_ACCOUNTS) as failed:
        transform(settings, timeout=TIMEOUT, target_path=target_path)

    assert {r.name for r in failed.value.summary.failures} == {
        FACT_TO_ACCOUNTS,
        FACT_TO_MERCHANTS,
        # the marts built from the fact carry the orphan on
        "relationships_mart_monthly_spend_account_id__account_id__ref_dim_accounts_",
        "relationships_mart_merchant_daily_merchant_name__merchant_name__ref_dim_merchants_",
        "assert_marts_reconcile_with_sources",
    }
    assert warehouse(
        settings, "SELECT count(*) FROM marts.fct_transactions WHERE account_id = 'AC-ORPHAN'"
    ) == [(1,)]
    healed = transform(settings, timeout=TIMEOUT, target_path=target_path, full_refresh=True)
    assert healed.success
    assert warehouse(
        settings, "SELECT count(*) FROM marts.fct_transactions WHERE account_id = 'AC-ORPHAN'"
    ) == [(0,)]


def test_docs_generate_and_cli(built, tmp_path):
    settings, _, target_path = built
    code = run_dbt(settings, ["docs", "generate"], target_path=target_path, timeout=TIMEOUT)
    assert code == 0
    catalog = json.loads((target_path / "catalog.json").read_text())
    assert "model.stack.fct_transactions" in catalog["nodes"]

    result = run_stack(
        settings, "transform", "--json", "--select", "stg_batch__files+", timeout=TIMEOUT
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["success"] and summary["counts"]["model"]["success"] >= 5

    empty = settings.model_copy(update={"warehouse_duckdb_path": tmp_path / "none.duckdb"})
    with pytest.raises(StackError, match="run `stack load` first"):
        transform(empty)
    missing = run_stack(empty, "transform")
    assert missing.returncode == 1 and "run `stack load` first" in missing.stderr


def test_failed_data_test_is_a_transform_error(built):
    settings, _, target_path = built
    con = duckdb.connect(str(settings.warehouse_duckdb_path))
    con.execute("UPDATE raw.transactions_sink SET status = 'lost' WHERE kafka_offset = 1")
    con.close()
    with pytest.raises(TransformError, match="accepted_values_stg_realtime") as failed:
        transform(
            settings, timeout=TIMEOUT, target_path=target_path, select="stg_realtime__transactions"
        )
    assert not failed.value.summary.success
    assert [r.status for r in failed.value.summary.failures] == ["fail"]
