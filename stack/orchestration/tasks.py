"""What the DAGs' tasks call (airflow/dags/): each function is one `stack.jobs` call with the
settings an Airflow task should use, returning that job's summary as a small dict (the task's
XCom). They raise the jobs' StackErrors unchanged; the DAG turns a ConfigError into a failure
without retry.

Settings inside a task: the environment (and `.env`), with PostgreSQL and Snowflake taken from
the Airflow connections `stack_postgres` and `stack_snowflake` when those are defined
(AIRFLOW_CONN_* from the environment, never stored in Airflow's database).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from stack.orchestration.environment import POSTGRES_CONN_ID, SNOWFLAKE_CONN_ID

if TYPE_CHECKING:
    from stack.progress import Event
    from stack.settings import Settings

log = logging.getLogger("stack")


def _connection(conn_id: str):
    """The Airflow connection `conn_id`, or None when it is not defined."""
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return Connection.get(conn_id)
    except AirflowNotFoundException:
        return None


def settings_from_connections(settings: Settings, postgres, snowflake) -> Settings:
    """`settings` with the fields an Airflow connection defines replacing theirs."""
    from pydantic import SecretStr

    update: dict = {}
    if postgres is not None:
        update |= {
            "postgres_host": postgres.host,
            "postgres_port": postgres.port,
            "postgres_user": postgres.login,
            "postgres_password": SecretStr(postgres.password) if postgres.password else None,
            "postgres_db": postgres.schema,
        }
    if snowflake is not None:
        extra = snowflake.extra_dejson
        update |= {
            "snowflake_account": extra.get("account"),
            "snowflake_user": snowflake.login,
            "snowflake_password": SecretStr(snowflake.password) if snowflake.password else None,
            "snowflake_schema": snowflake.schema,
            **{
                f"snowflake_{key}": extra[key]
                for key in ("warehouse", "database", "role", "host", "port", "protocol")
                if key in extra
            },
        }
    update = {key: value for key, value in update.items() if value not in (None, "")}
    return settings.model_copy(update=update)


def task_settings() -> Settings:
    from stack.settings import load_settings

    return settings_from_connections(
        load_settings(), _connection(POSTGRES_CONN_ID), _connection(SNOWFLAKE_CONN_ID)
    )


def _log_event(event: Event) -> None:
    """Progress into the task's log: items and notices, not every batch."""
    if event.kind in ("item", "done", "notice"):
        log.info("%s %s %s %s", event.job, event.kind, event.item or "", event.detail)


def _trim(data: dict, *drop: str) -> dict:
    return {key: value for key, value in data.items() if key not in drop}


# --- one function per task ----------------------------------------------------------------------
def load(target: str | None = None) -> dict:
    """The watermark load of every source table into `target` (default WAREHOUSE_TARGET)."""
    from stack.jobs import load_warehouse

    return load_warehouse(task_settings(), target=target, on_event=_log_event).to_dict()


def transform(target: str | None = None) -> dict:
    """`dbt build`; the per-node results are in the task log, the XCom keeps the counts."""
    from stack.jobs import transform as run
    from stack.orchestration.marts import mart_rows
    from stack.project import dbt_target_dir

    settings = task_settings()
    summary = run(settings, target=target, on_event=_log_event)
    data = _trim(summary.to_dict(), "results")
    status = {r.name: r.status for r in summary.results if r.resource_type == "model"}
    rows = mart_rows(settings, summary.target, dbt_target_dir(settings) / "manifest.json")
    data["marts"] = {name: [status.get(name), count] for name, count in rows.items()}
    return data


def ingest_batch() -> dict:
    """The incoming folder into PostgreSQL; `exit_code` 1 when files or rows were rejected."""
    from stack.jobs import ingest_batch as run

    summary = run(task_settings(), on_event=_log_event)
    data = summary.to_dict()
    data["exit_code"] = summary.exit_code
    return data


def consume_until_idle() -> dict:
    """What waits in Kafka into PostgreSQL, until caught up and idle."""
    from stack.jobs import consume_until_idle as run

    return run(task_settings(), on_event=_log_event).to_dict()


# --- assets -------------------------------------------------------------------------------------
RAW_ASSET_PREFIX = "stack://warehouse/raw/"
MART_ASSET_PREFIX = "stack://warehouse/marts/"


def raw_assets(loaded: dict) -> list[dict]:
    """One asset event per source table a load touched: {name, uri, extra}."""
    return [
        {
            "name": f"raw.{table['table']}",
            "uri": RAW_ASSET_PREFIX + table["table"],
            "extra": {
                "target": loaded["target"],
                "rows": table["rows"],
                "status": table["status"],
                "watermark": table["watermark_after"],
            },
        }
        for table in loaded["tables"]
        if table["status"] != "missing"
    ]


def mart_assets(built: dict) -> list[dict]:
    """One asset event per mart model dbt built: {name, uri, extra}."""
    return [
        {
            "name": f"marts.{name}",
            "uri": MART_ASSET_PREFIX + name,
            "extra": {"target": built["target"], "status": status, "rows": rows},
        }
        for name, (status, rows) in built.get("marts", {}).items()
    ]
