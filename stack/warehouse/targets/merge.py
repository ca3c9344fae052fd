"""The MERGE both targets run: upsert on the primary key, never an older version over a newer."""

from __future__ import annotations

from collections.abc import Callable

from stack.warehouse.types import TableSpec


def merge_sql(spec: TableSpec, *, table: str, source: str, ident: Callable[[str], str]) -> str:
    on = " AND ".join(f"tgt.{ident(k)} = src.{ident(k)}" for k in spec.primary_key)
    updates = ", ".join(
        f"{ident(name)} = src.{ident(name)}"
        for name in spec.column_names
        if name not in spec.primary_key
    )
    columns = ", ".join(ident(name) for name in spec.column_names)
    values = ", ".join(f"src.{ident(name)}" for name in spec.column_names)
    cursor = ident(spec.cursor)
    # `>=`: a rerun of the same interval rewrites identical values (idempotent); `>` would do too
    # but would skip a same-microsecond rewrite.
    return (
        f"MERGE INTO {table} AS tgt USING {source} AS src ON {on} "
        f"WHEN MATCHED AND src.{cursor} >= tgt.{cursor} THEN UPDATE SET {updates} "
        f"WHEN NOT MATCHED THEN INSERT ({columns}) VALUES ({values})"
    )
