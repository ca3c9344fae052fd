"""Comparing the warehouse with the source, row by row."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from pathlib import Path

import duckdb
import psycopg
from psycopg import sql

from stack.db import connect
from stack.settings import Settings

DBT_TIMEOUT = 300  # dbt runs in a child process; never let one hang the suite
# Models dbt builds: one per SQL file of the project (the semantic layer's time spine too).
DBT_MODELS = len(list((Path(__file__).parents[2] / "dbt" / "models").rglob("*.sql")))


def _plain(value: object) -> object:
    """One representation per value whichever database it came from."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, memoryview | bytearray):
        return bytes(value)
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC)
    return value


def primary_key(conn: psycopg.Connection, table: str) -> list[str]:
    return [
        row[0]
        for row in conn.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid"
            " AND a.attnum = ANY (i.indkey) WHERE i.indrelid = %s::regclass AND i.indisprimary"
            " ORDER BY array_position(i.indkey::int2[], a.attnum)",
            (table,),
        )
    ]


def source_table(settings: Settings, table: str) -> tuple[list[str], list[tuple]]:
    """(columns, rows ordered by primary key) of a PostgreSQL source table."""
    with connect(settings) as conn:
        key = primary_key(conn, table)
        cursor = conn.execute(
            sql.SQL("SELECT * FROM {} ORDER BY {}").format(
                sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, key))
            )
        )
        columns = [c.name for c in cursor.description]
        return columns, [tuple(map(_plain, row)) for row in cursor.fetchall()]


def duckdb_table(path: Path, table: str, columns: list[str], key: list[str]) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        cols = ", ".join(f'"{c}"' for c in columns)
        order = ", ".join(f'"{c}"' for c in key)
        rows = con.execute(f'SELECT {cols} FROM raw."{table}" ORDER BY {order}').fetchall()
        return [tuple(map(_plain, row)) for row in rows]
    finally:
        con.close()


def compare_duckdb(settings: Settings, table: str) -> tuple[list[str], set]:
    """(problems, keys only in the warehouse): a problem is a source row missing from raw or
    different there, or a duplicated key."""
    return _compare(
        settings,
        table,
        lambda columns, key: duckdb_table(settings.warehouse_duckdb_path, table, columns, key),
    )


def compare_snowflake(settings: Settings, table: str) -> tuple[list[str], set]:
    return _compare(
        settings, table, lambda columns, key: snowflake_table(settings, table, columns, key)
    )


def _compare(settings: Settings, table: str, fetch) -> tuple[list[str], set]:
    columns, expected = source_table(settings, table)
    with connect(settings) as conn:
        key = primary_key(conn, table)
    actual = fetch(columns, key)
    index = [columns.index(k) for k in key]

    def key_of(row: tuple) -> tuple:
        return tuple(row[i] for i in index)

    by_key: dict[tuple, tuple] = {}
    problems = []
    for row in actual:
        if key_of(row) in by_key:
            problems.append(f"{table}: duplicate key {key_of(row)}")
        by_key[key_of(row)] = row
    for row in expected:
        got = by_key.pop(key_of(row), None)
        if got != row:
            problems.append(f"{table}: warehouse {got} != source {row}")
    return problems, set(by_key)


def assert_duckdb_equals_source(settings: Settings, tables: list[str]) -> None:
    for table in tables:
        problems, extra = compare_duckdb(settings, table)
        assert not problems, "\n".join(problems[:10])
        assert not extra, f"{table}: rows only in the warehouse: {sorted(extra)[:10]}"


def duckdb_state(path: Path) -> dict[str, tuple]:
    """table -> (cursor_value, rows) from raw._load_state."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {
            name: (value, rows)
            for name, value, rows in con.execute(
                "SELECT table_name, cursor_value, rows FROM raw._load_state"
            ).fetchall()
        }
    finally:
        con.close()


def money(value: object) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def snowflake_query(settings: Settings, query: str) -> list[tuple]:
    """Rows of `query`, run in the loader's own session set-up (database and schema in use:
    fakesnow also needs that to re-attach a database file after a restart)."""
    from stack.warehouse.targets.snowflake import SnowflakeTarget

    with SnowflakeTarget(settings) as target:
        return target.cur.execute(query).fetchall()


def snowflake_table(
    settings: Settings, table: str, columns: list[str], key: list[str]
) -> list[tuple]:
    cols = ", ".join(c.upper() for c in columns)
    order = ", ".join(c.upper() for c in key)
    rows = snowflake_query(settings, f"SELECT {cols} FROM {table.upper()} ORDER BY {order}")
    return [tuple(map(_plain, row)) for row in rows]


def assert_snowflake_equals_source(settings: Settings, tables: list[str]) -> None:
    for table in tables:
        columns, expected = source_table(settings, table)
        with connect(settings) as conn:
            key = primary_key(conn, table)
        actual = snowflake_table(settings, table, columns, key)
        assert len(actual) == len(expected), f"{table}: {len(actual)} rows, source {len(expected)}"
        for got, want in zip(actual, expected, strict=True):
            assert got == want, f"{table}: snowflake {got} != source {want}"
