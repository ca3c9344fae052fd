"""The whole stack on a schedule: batch ingest of the incoming files, consume what waits in
Kafka until idle, the warehouse load, `dbt build`. Rejected rows warn; they do not fail the
run. Tasks: _stack.py.
"""

from __future__ import annotations

from _stack import DEFAULT_ARGS, START_DATE, consume, dbt_build, ingest_batch, load, params
from airflow.sdk import dag


@dag(
    schedule="@daily",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    params=params(),
    tags=["stack"],
    doc_md=__doc__,
)
def stack_pipeline():
    ingest_batch() >> consume() >> load() >> dbt_build()


stack_pipeline()
