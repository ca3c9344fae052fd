"""Incremental load of the stack's PostgreSQL source tables into the warehouse (Snowflake when
configured, DuckDB otherwise), then `dbt build`.

The watermark is the stack's own (kept in the warehouse, bounded by PostgreSQL's oldest open
transaction): a rerun of any run, or a retry, merges nothing new twice. Tasks: _stack.py.
"""

from __future__ import annotations

from _stack import DEFAULT_ARGS, START_DATE, dbt_build, load, params
from airflow.sdk import dag


@dag(
    schedule="@hourly",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    params=params(),
    tags=["stack", "warehouse"],
    doc_md=__doc__,
)
def load_postgres_to_snowflake():
    load() >> dbt_build()


load_postgres_to_snowflake()
