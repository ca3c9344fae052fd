"""Row counts of the marts dbt built, for the assets' event extra: the mart models are those
under dbt/models/marts (read from dbt's manifest), counted in the warehouse."""

from __future__ import annotations

import json
from pathlib import Path

from stack.settings import Settings


def mart_relations(manifest: Path) -> dict[str, str]:
    """Mart model name -> its relation (quoted, as dbt writes it) from dbt's manifest."""
    nodes = json.loads(manifest.read_text())["nodes"].values()
    return {
        node["name"]: node["relation_name"]
        for node in nodes
        if node["resource_type"] == "model" and node["fqn"][1:2] == ["marts"]
    }


def mart_rows(settings: Settings, target: str, manifest: Path) -> dict[str, int]:
    relations = mart_relations(manifest)
    queries = {name: f"SELECT count(*) FROM {relation}" for name, relation in relations.items()}
    if target == "snowflake":
        from stack.warehouse.targets.snowflake import snowflake_connect

        with snowflake_connect(settings) as conn, conn.cursor() as cursor:
            return {name: cursor.execute(sql).fetchall()[0][0] for name, sql in queries.items()}
    from stack.warehouse.targets.duckdb import open_duckdb

    with open_duckdb(settings.warehouse_duckdb_path, read_only=True) as conn:
        return {name: conn.execute(sql).fetchall()[0][0] for name, sql in queries.items()}
