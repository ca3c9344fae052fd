"""Which PostgreSQL tables the warehouse loads, and what the catalog says about each one.

The registry is deliberately small (a name and a cursor column): columns, types and primary
keys are read from pg_catalog at every load, so a column a pipeline adds just flows through.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from stack.errors import StackError
from stack.warehouse.load.types import Column


@dataclass(frozen=True)
class SourceTable:
    name: str
    cursor: str = "updated_at"  # timestamptz, set to clock_timestamp() on every write


# The pipelines' tables (stack/realtime/schema.py, stack/batch/schema.py), in load order:
# parents before children, so a partial load never holds a child without its parent.
SOURCE_TABLES: tuple[SourceTable, ...] = (
    SourceTable("transactions_sink"),
    SourceTable("transactions_dlq"),
    SourceTable("merchant_minute_totals"),
    SourceTable("ingest_files"),
    SourceTable("batch_transactions"),
    SourceTable("documents"),
    SourceTable("document_line_items"),
    SourceTable("ingest_rejects"),
)
SOURCE_NAMES = tuple(table.name for table in SOURCE_TABLES)


@dataclass(frozen=True)
class TableSpec:
    """A source table as the catalog describes it right now."""

    name: str
    cursor: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)


def select_tables(names: list[str] | None) -> list[SourceTable]:
    """The registry entries for `names` (all when None), in load order; unknown names fail."""
    if not names:
        return list(SOURCE_TABLES)
    wanted = [name.strip() for item in names for name in item.split(",") if name.strip()]
    unknown = sorted(set(wanted) - set(SOURCE_NAMES))
    if unknown:
        raise StackError(
            f"unknown source table(s): {', '.join(unknown)} (known: {', '.join(SOURCE_NAMES)})"
        )
    return [table for table in SOURCE_TABLES if table.name in wanted]


_COLUMNS_SQL = """
SELECT a.attname,
       t.typname,
       format_type(a.atttypid, a.atttypmod),
       information_schema._pg_numeric_precision(a.atttypid, a.atttypmod),
       information_schema._pg_numeric_scale(a.atttypid, a.atttypmod),
       NOT a.attnotnull
FROM pg_attribute a
JOIN pg_type t ON t.oid = a.atttypid
WHERE a.attrelid = %(table)s::regclass AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""

_PRIMARY_KEY_SQL = """
SELECT a.attname
FROM pg_index i
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
WHERE i.indrelid = %(table)s::regclass AND i.indisprimary
ORDER BY array_position(i.indkey::int2[], a.attnum)
"""


def describe(conn: psycopg.Connection, table: SourceTable) -> TableSpec | None:
    """Columns, types and primary key of `table` in the public schema; None if it is missing."""
    qualified = f"public.{table.name}"
    found = conn.execute("SELECT to_regclass(%s)", (qualified,)).fetchall()[0][0]
    if found is None:
        return None
    columns = tuple(
        Column(
            name=name,
            pg_base=base,
            pg_type=pg_type,
            precision=precision,
            scale=scale,
            nullable=nullable,
        )
        for name, base, pg_type, precision, scale, nullable in conn.execute(
            _COLUMNS_SQL, {"table": qualified}
        ).fetchall()
    )
    primary_key = tuple(row[0] for row in conn.execute(_PRIMARY_KEY_SQL, {"table": qualified}))
    if not primary_key:
        raise StackError(f"source table {table.name} has no primary key: the loader merges on it")
    cursor = next((column for column in columns if column.name == table.cursor), None)
    if cursor is None or cursor.pg_base != "timestamptz":
        raise StackError(
            f"source table {table.name} needs a `{table.cursor} timestamptz NOT NULL` column "
            "(set to clock_timestamp() on every write): the load cursor"
        )
    return TableSpec(table.name, table.cursor, columns, primary_key)
