"""The semantic layer: one metric query, the same SQL on DuckDB and Snowflake, the same rows
from both (Snowflake: fakesnow's server through the real connector)."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from stack.agent.eval import compare
from stack.agent.guard import check
from stack.agent.planner import OfflinePlanner
from stack.agent.semantic import MetricQuery, SemanticError
from stack.agent.warehouse import SnowflakeWarehouse
from stack.warehouse.targets.snowflake import snowflake_connect
from tests.warehouse.snowflake_double import FakesnowServer, point_at_fakesnow

QUESTION = "spend by category in March 2025"
COLUMNS = (
    "transaction_key", "source", "account_id", "merchant_name", "category_group",
    "currency_code", "status", "is_spend", "amount", "spend_amount", "transaction_date",
)  # fmt: skip


def test_the_question_compiles_to_one_metric_query(session):
    plan = OfflinePlanner(session.layer, session.vocabulary).plan(QUESTION)

    assert [c["name"] for c in plan.calls] == ["metric_query"]
    query = MetricQuery.from_dict(plan.calls[0]["args"])
    assert query.metrics == ["spend"]
    assert query.group_by == ["transaction__category_group", "transaction__currency_code"]
    assert (query.start, query.end) == (dt.date(2025, 3, 1), dt.date(2025, 3, 31))


def test_unknown_metrics_and_dimensions_are_refused_with_the_known_ones(session):
    with pytest.raises(SemanticError, match="spend"):
        session.layer.compile(MetricQuery(["profit"]), "duckdb")
    with pytest.raises(SemanticError, match="MetricFlow cannot compile"):
        session.layer.compile(MetricQuery(["spend"], ["transaction__colour"]), "duckdb")


@pytest.fixture
def fakesnow_marts(agent_settings, tmp_path):
    """fakesnow with MARTS.FCT_TRANSACTIONS holding the DuckDB warehouse's rows."""
    server = FakesnowServer(tmp_path / "fakesnow.log")
    server.start()
    try:
        settings = point_at_fakesnow(agent_settings, server.port)
        parquet = tmp_path / "fct.parquet"
        con = duckdb.connect(str(agent_settings.warehouse_duckdb_path), read_only=True)
        con.execute(
            f"COPY (SELECT {', '.join(COLUMNS)} FROM marts.fct_transactions) TO '{parquet}' "
            "(FORMAT parquet)"
        )
        con.close()
        conn = snowflake_connect(settings)
        cur = conn.cursor()
        database = settings.snowflake_database
        for statement in (
            f"CREATE DATABASE {database}",
            f"USE DATABASE {database}",
            "CREATE SCHEMA MARTS",
            "CREATE TABLE MARTS.FCT_TRANSACTIONS (TRANSACTION_KEY VARCHAR, SOURCE VARCHAR, "
            "ACCOUNT_ID VARCHAR, MERCHANT_NAME VARCHAR, CATEGORY_GROUP VARCHAR, "
            "CURRENCY_CODE VARCHAR, STATUS VARCHAR, IS_SPEND BOOLEAN, AMOUNT NUMBER(12,2), "
            "SPEND_AMOUNT NUMBER(12,2), TRANSACTION_DATE DATE)",
            "CREATE OR REPLACE TEMPORARY STAGE AGENT_TEST",
            f"PUT 'file://{parquet}' @AGENT_TEST AUTO_COMPRESS=FALSE",
            "COPY INTO MARTS.FCT_TRANSACTIONS FROM @AGENT_TEST FILE_FORMAT = (TYPE = PARQUET) "
            "MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE",
        ):
            cur.execute(statement)
        conn.close()
        yield settings
    finally:
        server.stop()


def test_the_same_sql_gives_the_same_rows_on_duckdb_and_snowflake(session, fakesnow_marts):
    args = OfflinePlanner(session.layer, session.vocabulary).plan(QUESTION).calls[0]["args"]
    query = MetricQuery.from_dict(args)

    on_duckdb = session.layer.compile(query, "duckdb")
    on_snowflake = session.layer.compile(query, "snowflake")

    assert on_duckdb == on_snowflake
    assert (
        "marts.fct_transactions" in on_duckdb
        and "BETWEEN '2025-03-01' AND '2025-03-31'" in on_duckdb
    )
    duck_rows = session.warehouse.run(
        check(on_duckdb, session.catalog, row_limit=1000).sql, limit=1000, timeout=60
    ).rows
    snowflake = SnowflakeWarehouse(fakesnow_marts)
    try:
        checked = check(on_snowflake, snowflake.catalog(), row_limit=1000)
        snow_rows = snowflake.run(checked.sql, limit=1000, timeout=60).rows
    finally:
        snowflake.close()
    assert len(duck_rows) > 3
    assert compare(snow_rows, duck_rows, ordered=False) == (True, True)
