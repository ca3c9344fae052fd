"""The SQL guard refuses, with a reason, everything but one SELECT over the allow-listed
tables and columns; and the database refuses writes and file access even without it."""

from __future__ import annotations

import pytest

from stack.agent.guard import Refused, check
from stack.agent.warehouse import QueryFailed

REFUSED = {
    "multi-statement": (
        "SELECT 1 FROM marts.dim_merchants; DROP TABLE marts.fct_transactions",
        "one statement",
    ),
    "drop": ("DROP TABLE marts.fct_transactions", "only SELECT"),
    "dml in a cte": (
        "WITH gone AS (DELETE FROM marts.fct_transactions RETURNING *) SELECT * FROM gone",
        "DELETE is not allowed",
    ),
    "insert in a cte": (
        "WITH x AS (INSERT INTO marts.dim_merchants SELECT * FROM marts.dim_merchants RETURNING *) "
        "SELECT count(*) FROM x",
        "INSERT is not allowed",
    ),
    "copy": ("COPY marts.fct_transactions TO '/tmp/out.csv'", "only SELECT"),
    "attach": ("ATTACH '/tmp/other.duckdb' AS other", "only SELECT"),
    "install": ("INSTALL httpfs", "only SELECT"),
    "load": ("LOAD httpfs", "only SELECT"),
    "pragma": ("PRAGMA database_list", "only SELECT"),
    "set": ("SET enable_external_access = true", "only SELECT"),
    "select into": ("SELECT * INTO copy FROM marts.fct_transactions", "INTO is not allowed"),
    "read_csv": ("SELECT * FROM read_csv('/etc/passwd')", "not allowed"),
    "read_text": (
        "SELECT read_text('/etc/hostname') FROM marts.dim_merchants",
        "read_text() is not allowed",
    ),
    "glob": ("SELECT * FROM glob('/etc/*')", "not allowed"),
    "a file as a table": ("SELECT * FROM '/etc/passwd'", "looks like a file"),
    "getenv": ("SELECT getenv('HOME') FROM marts.dim_merchants", "getenv() is not allowed"),
    "raw table": ("SELECT * FROM raw.documents", "unknown table raw.documents"),
    "catalog table": ("SELECT * FROM information_schema.tables", "unknown table"),
    "unknown table": ("SELECT * FROM marts.secret_salaries", "unknown table marts.secret_salaries"),
    "unknown column": ("SELECT categry FROM marts.fct_transactions", "categry"),
    "other database": ("SELECT * FROM other.marts.fct_transactions", "no database"),
    "not sql": ("please drop everything", "does not parse"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_guard_refuses_with_a_reason(session, case):
    sql, reason = REFUSED[case]

    with pytest.raises(Refused) as refused:
        check(sql, session.catalog, row_limit=10)

    assert reason in str(refused.value)


def test_guard_accepts_a_select_qualifies_it_and_limits_its_rows(session):
    checked = check(
        "WITH spend AS (SELECT category_group, spend_amount FROM fct_transactions) "
        "SELECT category_group, sum(spend_amount) FROM spend GROUP BY 1 ORDER BY 2 DESC",
        session.catalog,
        row_limit=3,
    )

    assert checked.tables == ("marts.fct_transactions",)
    assert "marts.fct_transactions" in checked.sql and checked.sql.endswith("LIMIT 4")
    assert checked.ordered
    result = session.warehouse.run(checked.sql, limit=3, timeout=30)
    assert len(result.rows) == 3 and result.truncated


def test_the_catalog_is_dbt_schemas_only(session):
    schemas = {db for db, _ in session.catalog.tables}

    assert schemas <= {"staging", "intermediate", "marts", "seeds"}
    assert ("marts", "fct_transactions") in session.catalog.tables
    assert ("staging", "stg_batch__documents") in session.catalog.tables


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE TABLE marts.planted AS SELECT 1 AS x",
        "DROP TABLE marts.fct_transactions",
        "DELETE FROM marts.fct_transactions",
        "SELECT * FROM read_text('/etc/hostname')",
        "ATTACH '/tmp/agent-attack.duckdb' AS attack",
        "COPY (SELECT 1) TO '/tmp/agent-attack.csv'",
        "SET enable_external_access = true",
    ],
)
def test_the_database_refuses_even_when_the_guard_is_bypassed(session, warehouse_rows, statement):
    with pytest.raises(QueryFailed):
        session.warehouse.run(statement, limit=10, timeout=30)

    assert warehouse_rows("SELECT count(*) FROM marts.fct_transactions")[0][0] > 0


def test_a_slow_query_is_stopped_by_the_timeout(session):
    with pytest.raises(QueryFailed, match="longer than"):
        session.warehouse.run(
            "SELECT count(*) FROM marts.fct_transactions a, marts.fct_transactions b, "
            "marts.fct_transactions c, marts.fct_transactions d",
            limit=10,
            timeout=0.5,
        )
