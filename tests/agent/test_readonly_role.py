"""The SELECT-only role `stack agent grants --target postgres` prints: run as written, a
member can read dbt's schemas and can write nothing."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql
from pydantic import SecretStr

from stack.agent.warehouse import grants_sql
from stack.errors import StackError


def test_the_postgres_role_reads_and_cannot_write(settings):
    admin = settings.postgres_conninfo()
    with psycopg.connect(admin, autocommit=True) as conn:
        for schema in ("staging", "intermediate", "marts", "seeds", "raw"):
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        conn.execute("CREATE TABLE marts.fct_transactions (amount numeric(12,2))")
        conn.execute("INSERT INTO marts.fct_transactions VALUES (12.50)")
        conn.execute("CREATE TABLE raw.documents (text text)")
        conn.execute("DROP ROLE IF EXISTS stack_agent_reader")
        conn.execute(grants_sql(settings, "postgres"))
        conn.execute("DROP ROLE IF EXISTS stack_agent_test")
        conn.execute(
            "CREATE ROLE stack_agent_test LOGIN PASSWORD 'reader' IN ROLE stack_agent_reader"
        )
    reader = settings.model_copy(
        update={"postgres_user": "stack_agent_test", "postgres_password": SecretStr("reader")}
    )
    try:
        with psycopg.connect(reader.postgres_conninfo(), autocommit=True) as conn:
            assert (
                conn.execute("SELECT amount FROM marts.fct_transactions").fetchall()[0][0] == 12.5
            )
            for statement in (
                "INSERT INTO marts.fct_transactions VALUES (1)",
                "CREATE TABLE marts.planted (x int)",
                "SELECT * FROM raw.documents",
            ):
                with pytest.raises(psycopg.errors.Error):
                    conn.execute(statement)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("DROP OWNED BY stack_agent_test, stack_agent_reader")
            conn.execute("DROP ROLE stack_agent_test")
            conn.execute("DROP ROLE stack_agent_reader")


def test_snowflake_grants_name_the_database_and_duckdb_needs_none(settings):
    text = grants_sql(settings.model_copy(update={"snowflake_database": "ANALYTICS"}), "snowflake")

    assert "GRANT USAGE ON DATABASE ANALYTICS TO ROLE STACK_AGENT_READER;" in text
    assert "RAW" not in text.replace("raw schema", "")
    with pytest.raises(StackError, match="snowflake or postgres"):
        grants_sql(settings, "duckdb")
