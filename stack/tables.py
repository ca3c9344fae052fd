"""The catalog of source tables: every table a pipeline writes in PostgreSQL and the warehouse
loads, written once. The loader, `stack preview`, `stack status` and `stack transform`'s
readiness check derive from it; tests check it against each pipeline's DDL and the dbt sources.

Adding a sink table: its DDL in the pipeline's schema.py, one entry here, one dbt source entry
and staging model.

Convention every source table follows (the loader relies on it): a primary key, and
`updated_at timestamptz NOT NULL` set to clock_timestamp() whenever the row is written.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from stack.errors import StackError

if TYPE_CHECKING:
    import psycopg

Pipeline = Literal["realtime", "batch"]

# Each pipeline's module that creates its tables (`ensure_schema(conn)`, idempotent).
SCHEMA_MODULES: dict[Pipeline, str] = {
    "realtime": "stack.realtime.schema",
    "batch": "stack.batch.schema",
}


@dataclass(frozen=True)
class SourceTable:
    name: str
    pipeline: Pipeline  # whose schema.py creates it; also the dbt source it belongs to
    primary_key: tuple[str, ...]  # what the warehouse merges on
    window_column: str  # what places a row in time (`stack preview --days`)
    cursor: str = "updated_at"  # the load cursor (see the convention above)
    dbt: bool = True  # a dbt source: `stack transform` needs it in the warehouse


# In load order: parents before children, so a partial load never holds a child without
# its parent.
SOURCE_TABLES: tuple[SourceTable, ...] = (
    SourceTable("transactions_sink", "realtime", ("transaction_id",), "created_at"),
    SourceTable("transactions_dlq", "realtime", ("dlq_id",), "failed_at"),
    SourceTable("merchant_minute_totals", "realtime", ("merchant", "window_start"), "window_start"),
    SourceTable("ingest_files", "batch", ("path",), "ingested_at"),
    SourceTable("batch_transactions", "batch", ("transaction_id",), "posted_date"),
    SourceTable("documents", "batch", ("document_id",), "updated_at"),
    SourceTable("document_line_items", "batch", ("document_id", "line_no"), "updated_at"),
    SourceTable("ingest_rejects", "batch", ("reject_id",), "rejected_at"),
)
SOURCE_NAMES: tuple[str, ...] = tuple(table.name for table in SOURCE_TABLES)


def source_table(name: str) -> SourceTable:
    for table in SOURCE_TABLES:
        if table.name == name:
            return table
    raise KeyError(name)


def tables_of(pipeline: Pipeline) -> tuple[SourceTable, ...]:
    return tuple(table for table in SOURCE_TABLES if table.pipeline == pipeline)


def select_tables(names: list[str] | None) -> list[SourceTable]:
    """The entries for `names` (each may be a comma list; all when empty), in load order;
    unknown names fail with the list of known ones."""
    if not names:
        return list(SOURCE_TABLES)
    wanted = [name.strip() for item in names for name in item.split(",") if name.strip()]
    unknown = sorted(set(wanted) - set(SOURCE_NAMES))
    if unknown:
        raise StackError(
            f"unknown source table(s): {', '.join(unknown)} (known: {', '.join(SOURCE_NAMES)})"
        )
    return [table for table in SOURCE_TABLES if table.name in wanted]


def ensure_source_tables(conn: psycopg.Connection, tables: list[SourceTable]) -> list[str]:
    """Create, through their pipeline's DDL, those of `tables` that PostgreSQL lacks (a
    pipeline that has not run yet); the names created. Tables that exist are not touched."""
    missing = [
        table
        for table in tables
        if conn.execute("SELECT to_regclass(%s)", (f"public.{table.name}",)).fetchall()[0][0]
        is None
    ]
    for pipeline in dict.fromkeys(table.pipeline for table in missing):
        importlib.import_module(SCHEMA_MODULES[pipeline]).ensure_schema(conn)
    if not conn.autocommit:
        conn.commit()
    return [table.name for table in missing]


def row_counts(conn: psycopg.Connection, tables: tuple[SourceTable, ...]) -> dict[str, int]:
    """Rows of each of `tables` that exists (for `stack status`); missing ones are left out."""
    from psycopg import sql

    counts = {}
    for table in tables:
        if conn.execute("SELECT to_regclass(%s)", (f"public.{table.name}",)).fetchall()[0][0]:
            query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("public", table.name))
            counts[table.name] = conn.execute(query).fetchall()[0][0]
    return counts
