"""The warehouse's pure parts, without a database: the MERGE, the type mapping, identifiers,
table selection, target names and dbt node names."""

from __future__ import annotations

import pytest

from stack.errors import ConfigError, StackError
from stack.settings import load_settings
from stack.tables import SOURCE_NAMES, select_tables
from stack.warehouse.targets import TARGET_NAMES, target_name
from stack.warehouse.targets.merge import merge_sql
from stack.warehouse.transform import _node_name
from stack.warehouse.types import Column, TableSpec, duckdb_ident, snowflake_ident

SPEC = TableSpec(
    name="items",
    cursor="updated_at",
    columns=(
        Column("doc", "text", "text"),
        Column("line", "int4", "integer"),
        Column("amount", "numeric", "numeric(12,2)", 12, 2),
        Column("updated_at", "timestamptz", "timestamp with time zone"),
    ),
    primary_key=("doc", "line"),
)


def test_merge_matches_on_the_whole_key_and_never_writes_an_older_version():
    statement = merge_sql(SPEC, table="raw.items", source="batch", ident=duckdb_ident)
    assert statement == (
        'MERGE INTO raw.items AS tgt USING batch AS src ON tgt."doc" = src."doc" AND '
        'tgt."line" = src."line" WHEN MATCHED AND src."updated_at" >= tgt."updated_at" THEN '
        'UPDATE SET "amount" = src."amount", "updated_at" = src."updated_at" WHEN NOT MATCHED '
        'THEN INSERT ("doc", "line", "amount", "updated_at") VALUES (src."doc", src."line", '
        'src."amount", src."updated_at")'
    )


@pytest.mark.parametrize(
    ("column", "duckdb", "snowflake", "as_text"),
    [
        (Column("a", "numeric", "numeric(12,2)", 12, 2), "DECIMAL(12,2)", "NUMBER(12,2)", True),
        (Column("a", "numeric", "numeric(40,2)", 40, 2), "VARCHAR", "VARCHAR", True),
        (Column("a", "numeric", "numeric", None, None), "VARCHAR", "VARCHAR", True),
        (Column("a", "uuid", "uuid"), "UUID", "VARCHAR(36)", False),
        (
            Column("a", "timestamptz", "timestamptz"),
            "TIMESTAMP WITH TIME ZONE",
            "TIMESTAMP_TZ",
            False,
        ),
        (Column("a", "jsonb", "jsonb"), "JSON", "VARCHAR", True),
        (Column("a", "_text", "text[]"), "VARCHAR", "VARCHAR", True),
        (Column("a", "bytea", "bytea"), "BLOB", "BINARY", False),
    ],
)
def test_types_are_exact_or_travel_as_text(column, duckdb, snowflake, as_text):
    assert column.duckdb_type == duckdb
    assert column.snowflake_type == snowflake
    assert column.sent_as_text is as_text
    assert column.parquet_duckdb_type == ("VARCHAR" if snowflake.startswith("VARCHAR") else duckdb)


def test_identifiers_are_quoted_when_they_must_be():
    assert duckdb_ident('we"ird') == '"we""ird"'
    assert snowflake_ident("amount") == "AMOUNT"
    assert snowflake_ident("1st") == '"1st"'
    assert snowflake_ident("two words") == '"two words"'


def test_tables_are_selected_in_load_order_and_unknown_ones_are_named():
    assert [t.name for t in select_tables(None)] == list(SOURCE_NAMES)
    chosen = select_tables(["documents, transactions_sink", "documents"])
    assert [t.name for t in chosen] == ["transactions_sink", "documents"]
    with pytest.raises(
        StackError, match=r"unknown source table\(s\): nope \(known: transactions_sink"
    ):
        select_tables(["nope"])


def test_target_names_come_from_one_list():
    settings = load_settings()
    assert TARGET_NAMES == ("duckdb", "snowflake")
    assert target_name(settings) == settings.warehouse_target
    assert target_name(settings, "snowflake") == "snowflake"
    with pytest.raises(ConfigError, match="unknown warehouse target 'oracle'"):
        target_name(settings, "oracle")


def test_dbt_node_names():
    assert _node_name("model.stack.fct_transactions") == "fct_transactions"
    assert _node_name("test.stack.unique_x_id.1a2b") == "unique_x_id"
    assert _node_name("source.stack.realtime.transactions_sink") == "realtime.transactions_sink"
