"""The pure parts of stack.orchestration: connections from the settings and back, the asset
events a load and a build record, the mart models read from dbt's manifest."""

from __future__ import annotations

import json
from types import SimpleNamespace

from pydantic import SecretStr

from stack.orchestration.environment import airflow_env, connection_env
from stack.orchestration.marts import mart_relations
from stack.orchestration.tasks import mart_assets, raw_assets, settings_from_connections
from stack.settings import load_settings


def _connection(data: dict) -> SimpleNamespace:
    """What Airflow's Connection gives the tasks, from the JSON of an AIRFLOW_CONN_* value."""
    return SimpleNamespace(
        host=data.get("host"),
        port=data.get("port"),
        login=data.get("login"),
        password=data.get("password"),
        schema=data.get("schema"),
        extra_dejson=data.get("extra", {}),
    )


def test_connections_carry_the_settings_to_the_tasks_and_back():
    source = load_settings(
        postgres_host="db.internal",
        postgres_port=6543,
        postgres_password=SecretStr("pg-secret"),
        postgres_db="warehouse_src",
        snowflake_account="acme-1",
        snowflake_user="loader",
        snowflake_password=SecretStr("sf-secret"),
        snowflake_warehouse="WH",
        snowflake_port=8443,
    )
    env = connection_env(source)
    assert set(env) == {"AIRFLOW_CONN_STACK_POSTGRES", "AIRFLOW_CONN_STACK_SNOWFLAKE"}
    blank = load_settings()
    got = settings_from_connections(
        blank,
        _connection(json.loads(env["AIRFLOW_CONN_STACK_POSTGRES"])),
        _connection(json.loads(env["AIRFLOW_CONN_STACK_SNOWFLAKE"])),
    )
    for field in (
        "postgres_host",
        "postgres_port",
        "postgres_db",
        "snowflake_account",
        "snowflake_user",
        "snowflake_warehouse",
        "snowflake_port",
    ):
        assert getattr(got, field) == getattr(source, field), field
    assert got.postgres_password.get_secret_value() == "pg-secret"
    assert got.snowflake_password.get_secret_value() == "sf-secret"
    # without a Snowflake account there is no Snowflake connection, and none is applied
    assert set(connection_env(blank)) == {"AIRFLOW_CONN_STACK_POSTGRES"}
    assert settings_from_connections(blank, None, None) == blank


def test_airflow_env_is_sized_from_the_settings():
    env = airflow_env(load_settings(airflow_port=18080, airflow_parallelism=2))
    assert env["AIRFLOW__CORE__PARALLELISM"] == "2"
    assert env["AIRFLOW__API__BASE_URL"] == "http://localhost:18080"
    assert env["AIRFLOW__API__PORT"] == "18080"
    assert env["AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT"] == "60"
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"


def test_asset_events_name_each_table_and_mart_with_its_rows():
    loaded = {
        "target": "duckdb",
        "tables": [
            {
                "table": "transactions_sink",
                "status": "loaded",
                "rows": 12,
                "watermark_after": "2026-01-01T00:00:00+00:00",
            },
            {"table": "documents", "status": "missing", "rows": 0, "watermark_after": None},
        ],
    }
    assert raw_assets(loaded) == [
        {
            "name": "raw.transactions_sink",
            "uri": "stack://warehouse/raw/transactions_sink",
            "extra": {
                "target": "duckdb",
                "rows": 12,
                "status": "loaded",
                "watermark": "2026-01-01T00:00:00+00:00",
            },
        }
    ]
    built = {"target": "snowflake", "marts": {"fct_transactions": ["success", 370]}}
    assert mart_assets(built) == [
        {
            "name": "marts.fct_transactions",
            "uri": "stack://warehouse/marts/fct_transactions",
            "extra": {"target": "snowflake", "status": "success", "rows": 370},
        }
    ]


def test_mart_models_come_from_the_manifest(tmp_path):
    manifest = tmp_path / "manifest.json"
    node = {
        "resource_type": "model",
        "relation_name": '"wh"."marts"."fct"',
        "name": "fct",
        "fqn": ["stack", "marts", "fct"],
    }
    staging = {**node, "name": "stg", "fqn": ["stack", "staging", "stg"]}
    test = {**node, "resource_type": "test", "name": "t"}
    manifest.write_text(json.dumps({"nodes": {"a": node, "b": staging, "c": test}}))
    assert mart_relations(manifest) == {"fct": '"wh"."marts"."fct"'}
