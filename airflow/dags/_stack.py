"""The stack's tasks, shared by the DAG files in this folder (Airflow puts it on sys.path).

Each task is one call into `stack.orchestration.tasks` (one `stack.jobs` call each) and
returns that job's summary as its XCom. `stack` is imported only when a task runs, never when
Airflow parses the DAG files. Errors: a ConfigError (a bad setting or Param) fails the task
at once, without retry; any other StackError (PostgreSQL, Kafka or the warehouse out of
reach, another load running) is retried with backoff. Its one-line reason is the task's
error.

Assets: the load records one asset event per raw table (`raw.<table>`) and the dbt build one
per mart (`marts.<model>`), through the aliases below, with row counts in each event's extra.
The table and model names come from the stack at run time (its table catalog, dbt's results),
so they are written once, in the stack.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from airflow.sdk import Asset, AssetAlias, Param, task

log = logging.getLogger("stack")

RAW_TABLES = AssetAlias("stack_raw_tables")
MARTS = AssetAlias("stack_marts")

START_DATE = datetime(2025, 1, 1, tzinfo=UTC)
DEFAULT_ARGS = {
    "owner": "stack",
    "retries": 3,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=10),
}


def params() -> dict:
    """The DAGs' Params, new for each DAG (Airflow stores a run's value in its Param object)."""
    return {
        "target": Param(
            None,
            type=["null", "string"],
            description="The warehouse: duckdb or snowflake. Empty: the stack's WAREHOUSE_TARGET.",
        ),
    }


class StackTaskError(Exception):
    """A stack job failed in a way worth retrying; the message is the job's one line."""


def _run(job: str, **kwargs) -> dict:
    from airflow.sdk.exceptions import AirflowFailException

    from stack.errors import ConfigError, StackError
    from stack.orchestration import tasks

    try:
        return getattr(tasks, job)(**kwargs)
    except ConfigError as error:
        log.error("%s", error)
        raise AirflowFailException(str(error)) from None
    except StackError as error:
        log.error("%s", error)
        raise StackTaskError(str(error)) from None


def _record(outlet_events, alias: AssetAlias, events: list[dict]) -> None:
    for event in events:
        outlet_events[alias].add(Asset(name=event["name"], uri=event["uri"]), extra=event["extra"])


@task(outlets=[RAW_TABLES])
def load(params=None, outlet_events=None) -> dict:
    """Watermark load of every source table into the warehouse."""
    from stack.orchestration.tasks import raw_assets

    loaded = _run("load", target=params["target"])
    _record(outlet_events, RAW_TABLES, raw_assets(loaded))
    return loaded


@task(outlets=[MARTS])
def dbt_build(params=None, outlet_events=None) -> dict:
    """`dbt build` of the whole project (seeds, models, tests) on the warehouse."""
    from stack.orchestration.tasks import mart_assets

    built = _run("transform", target=params["target"])
    _record(outlet_events, MARTS, mart_assets(built))
    return built


@task
def ingest_batch() -> dict:
    """The incoming CSV and PDF files into PostgreSQL; rejected rows warn, they do not fail.
    A file the ingest crashed on (exit code 4: a bug, not bad input; the other files loaded)
    fails the task without retry: the same file would crash again, and someone must look."""
    from airflow.sdk.exceptions import AirflowFailException

    ingested = _run("ingest_batch")
    if ingested["exit_code"] == 4:
        raise AirflowFailException(
            f"batch ingest failed on {ingested['files']['error']} file(s) with an internal "
            f"error (the others loaded; tracebacks in {ingested['crash_log']})"
        )
    if ingested["exit_code"]:
        log.warning(
            "batch ingest rejected input (kept in ingest_rejects and the rejected folder): %s",
            ingested.get("rejects_by_reason") or ingested.get("files"),
        )
    return ingested


@task
def consume() -> dict:
    """What waits in Kafka into PostgreSQL, until caught up and idle; dead-lettered events do
    not fail it. A message the stack failed on (exit code 4: a bug; dead-lettered as
    internal_error, the others written) fails the task without retry, as for a file."""
    from airflow.sdk.exceptions import AirflowFailException

    consumed = _run("consume_until_idle")
    if consumed["exit_code"] == 4:
        raise AirflowFailException(
            f"consume failed on {consumed['reasons']['internal_error']} message(s) with an "
            "internal error (dead-lettered as internal_error; the others were written; "
            "tracebacks in STACK_HOME/logs/sink-writer.log)"
        )
    return consumed
