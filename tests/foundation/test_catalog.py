"""The catalog of source tables (stack/tables.py) against what each pipeline's DDL creates and
what the dbt project reads: the one list agrees with both."""

from __future__ import annotations

import importlib

import yaml

from stack.db import connect
from stack.settings import PROJECT_ROOT
from stack.tables import SCHEMA_MODULES, SOURCE_TABLES, ensure_source_tables

_KEY_SQL = """
SELECT a.attname FROM pg_index i
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
WHERE i.indrelid = %s::regclass AND i.indisprimary
ORDER BY array_position(i.indkey::int2[], a.attnum)
"""


def test_catalog_matches_the_tables_each_pipeline_creates(settings):
    with connect(settings, autocommit=True) as conn:
        for pipeline, module in SCHEMA_MODULES.items():
            importlib.import_module(module).ensure_schema(conn)
            created = {
                name
                for (name,) in conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                )
            }
            catalogued = {t.name for t in SOURCE_TABLES if t.pipeline == pipeline}
            assert catalogued <= created, pipeline
            conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
            assert created == catalogued, f"{pipeline} creates tables the catalog lacks"
        ensure_source_tables(conn, list(SOURCE_TABLES))
        for table in SOURCE_TABLES:
            key = tuple(row[0] for row in conn.execute(_KEY_SQL, (table.name,)))
            assert key == table.primary_key, table.name
            types = dict(
                conn.execute(
                    "SELECT column_name, data_type FROM information_schema.columns"
                    " WHERE table_schema = 'public' AND table_name = %s",
                    (table.name,),
                ).fetchall()
            )
            assert types[table.cursor] == "timestamp with time zone", table.name
            assert types[table.window_column] in (
                "timestamp with time zone",
                "date",
            ), table.name


def test_catalog_matches_the_dbt_sources():
    declared: dict[str, set[str]] = {}
    for path in sorted((PROJECT_ROOT / "dbt" / "models").rglob("*.yml")):
        for source in (yaml.safe_load(path.read_text()) or {}).get("sources", []):
            declared.setdefault(source["name"], set()).update(t["name"] for t in source["tables"])
    wanted: dict[str, set[str]] = {}
    for table in SOURCE_TABLES:
        if table.dbt:
            wanted.setdefault(table.pipeline, set()).add(table.name)
    assert declared == wanted


def test_creating_missing_tables_leaves_existing_ones_alone(settings):
    with connect(settings, autocommit=True) as conn:
        assert set(ensure_source_tables(conn, list(SOURCE_TABLES))) == {
            t.name for t in SOURCE_TABLES
        }
        conn.execute("DROP TABLE transactions_dlq")
        assert ensure_source_tables(conn, list(SOURCE_TABLES)) == ["transactions_dlq"]
        assert ensure_source_tables(conn, list(SOURCE_TABLES)) == []
