"""The DAG files as Airflow parses them: no import errors, nothing of the stack or of any
driver imported at parse time, and the tasks, dependencies, assets, schedules and retry rules
the README describes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta

from stack.orchestration.environment import DAGS_FOLDER

# What a DAG file must not import while Airflow parses it: the stack, its drivers, its tools.
HEAVY = (
    "stack",
    "duckdb",
    "psycopg",
    "psycopg2",
    "pyarrow",
    "pandas",
    "adbc_driver_postgresql",
    "confluent_kafka",
    "quixstreams",
    "dbt",
    "snowflake.connector",
    "pdfplumber",
)

PARSE = f"""
import json, sys
before = set(sys.modules)
from airflow.dag_processing.dagbag import BundleDagBag
baseline = set(sys.modules)
bag = BundleDagBag(dag_folder={str(DAGS_FOLDER)!r}, bundle_path={str(DAGS_FOLDER)!r}, bundle_name="dags-folder")
print(json.dumps({{"dags": sorted(bag.dags), "errors": bag.import_errors,
                   "imported": sorted(set(sys.modules) - baseline)}}))
"""


def test_dag_files_parse_without_errors_and_without_importing_the_stack(airflow_db):
    # A fresh interpreter: this one has imported the stack already.
    result = subprocess.run(
        [sys.executable, "-c", PARSE],
        capture_output=True,
        text=True,
        env={**os.environ},
        cwd="/",  # not the checkout: `stack` must not come from the working directory either
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    parsed = json.loads(result.stdout.strip().splitlines()[-1])
    assert parsed["errors"] == {}
    assert parsed["dags"] == ["load_postgres_to_snowflake", "stack_pipeline"]
    heavy = [
        name
        for name in parsed["imported"]
        if any(name == root or name.startswith(root + ".") for root in HEAVY)
    ]
    assert heavy == [], f"imported while parsing the DAG files: {heavy}"


def _shape(dag) -> dict[str, list[str]]:
    return {task.task_id: sorted(task.downstream_task_ids) for task in dag.tasks}


def _outlets(dag) -> dict[str, list[str]]:
    return {
        task.task_id: [getattr(o, "name", str(o)) for o in task.outlets]
        for task in dag.tasks
        if task.outlets
    }


def test_load_dag_tasks_assets_schedule_and_retries(dagbag):
    dag = dagbag.dags["load_postgres_to_snowflake"]
    assert _shape(dag) == {"load": ["dbt_build"], "dbt_build": []}
    assert _outlets(dag) == {"load": ["stack_raw_tables"], "dbt_build": ["stack_marts"]}
    assert dag.timetable.expression == "0 * * * *"
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert dag.params["target"] is None  # the stack's WAREHOUSE_TARGET
    for task in dag.tasks:
        assert task.retries == 3
        assert task.retry_exponential_backoff
        assert task.retry_delay == timedelta(seconds=30)


def test_pipeline_dag_runs_the_whole_stack_in_order(dagbag):
    dag = dagbag.dags["stack_pipeline"]
    assert _shape(dag) == {
        "ingest_batch": ["consume"],
        "consume": ["load"],
        "load": ["dbt_build"],
        "dbt_build": [],
    }
    assert _outlets(dag) == {"load": ["stack_raw_tables"], "dbt_build": ["stack_marts"]}
    assert dag.timetable.expression == "0 0 * * *"
    assert dag.catchup is False and dag.max_active_runs == 1
