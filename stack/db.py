"""PostgreSQL access for the pipelines: psycopg 3 connections (COPY, server-side cursors)."""

from __future__ import annotations

import re

import psycopg

from stack.errors import ConfigError, ServiceError
from stack.settings import Settings

# Refusals that waiting will not cure: the settings are wrong. (libpq gives no SQLSTATE for a
# failed connection, only the server's message.)
_WRONG_SETTINGS = (
    (re.compile(r'database "[^"]*" does not exist'), "POSTGRES_DB"),
    (
        re.compile(
            r"password authentication failed|no password supplied|"
            r'role "[^"]*" does not exist|no pg_hba\.conf entry'
        ),
        "POSTGRES_USER and POSTGRES_PASSWORD",
    ),
)


def connect(
    settings: Settings, *, autocommit: bool = False, dbname: str | None = None
) -> psycopg.Connection:
    """A connection to the project's database; a one-line error when it cannot be reached
    (ServiceError: worth a retry) or refuses the settings (ConfigError: it is not)."""
    try:
        return psycopg.connect(settings.postgres_conninfo(dbname), autocommit=autocommit)
    except psycopg.OperationalError as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else "unreachable"
        where = (
            f"{settings.postgres_host}:{settings.postgres_port}/{dbname or settings.postgres_db}"
        )
        reason = first_line.partition("FATAL:")[2].strip() or first_line
        for pattern, variables in _WRONG_SETTINGS:
            if pattern.search(first_line):
                raise ConfigError(
                    f"PostgreSQL at {where} refuses the settings: {reason}; check {variables} "
                    "(in .env or the environment)"
                ) from None
        raise ServiceError(
            f"cannot connect to PostgreSQL at {where}: {first_line} (is it up? `stack up`)"
        ) from None


def run_sql(settings: Settings, query: str) -> dict:
    """Run one statement; return its columns, rows (as dicts), rowcount and status."""
    with connect(settings) as conn:
        try:
            cursor = conn.execute(query)  # type: ignore[arg-type]  # user-typed SQL, by design
        except psycopg.Error as error:
            message = error.diag.message_primary or str(error).strip().splitlines()[0]
            raise ServiceError(f"SQL error: {message}") from None
        columns = [column.name for column in cursor.description] if cursor.description else []
        rows = (
            [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()] if columns else []
        )
        return {
            "columns": columns,
            "rows": rows,
            "rowcount": cursor.rowcount,
            "status": cursor.statusmessage,
        }


def apply_ddl(conn: psycopg.Connection, ddl: str, *, name: str) -> None:
    """Run idempotent DDL (`CREATE ... IF NOT EXISTS`) under an advisory lock named `name`:
    processes that start together (two consumers, the window process, two ingests) would
    otherwise collide in pg_type. Sent with the DDL as one query, so the transaction-level
    lock holds until the end of it even on an autocommit connection."""
    conn.execute(f"SELECT pg_advisory_xact_lock(hashtext('{name}'));\n" + ddl)
