"""What PostgreSQL's catalog says about a source table right now.

The catalog of source tables (stack/tables.py) is deliberately small: columns and types are
read from pg_catalog at every load, so a column a pipeline adds just flows through.
"""

from __future__ import annotations

import psycopg

from stack.errors import StackError
from stack.tables import SourceTable
from stack.warehouse.types import Column, TableSpec

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
    """Columns, types and primary key of `table` in the public schema; None if it is missing.
    The primary key must be the catalog's (the warehouse merges on it)."""
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
    if primary_key != table.primary_key:
        raise StackError(
            f"source table {table.name} has primary key ({', '.join(primary_key) or 'none'}) in "
            f"PostgreSQL but ({', '.join(table.primary_key)}) in the catalog (stack/tables.py): "
            "the warehouse merges on it; make them agree"
        )
    cursor = next((column for column in columns if column.name == table.cursor), None)
    if cursor is None or cursor.pg_base != "timestamptz":
        raise StackError(
            f"source table {table.name} needs a `{table.cursor} timestamptz NOT NULL` column "
            "(set to clock_timestamp() on every write): the load cursor"
        )
    return TableSpec(table.name, table.cursor, columns, primary_key)
