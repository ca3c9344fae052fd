"""Airflow as local processes, driven by the CLI as a user drives it: `stack up --airflow`
starts the four components (beside the session's PostgreSQL and Kafka, as the external
backend), `stack status` reports them healthy from the API, `stack airflow run` triggers a DAG
through the REST API and waits for its success, `stack down` leaves no Airflow process."""

from __future__ import annotations

import json
import os
from pathlib import Path

from stack.db import connect
from stack.orchestration.local import COMPONENTS, LocalAirflow, group_members
from stack.services.process import pid_alive, process_cmdline
from tests.helpers import run_stack
from tests.warehouse import sources


def airflow_processes(home: Path, groups: set[int]) -> list[int]:
    """Every process left in the components' process groups, and every process that calls
    itself Airflow (its title: `airflow scheduler`, `airflow api_server`, ...) with this
    AIRFLOW_HOME in its environment."""
    marker = f"AIRFLOW_HOME={home}".encode()
    found = set()
    for pgid in groups:
        found.update(pid for pid in group_members(pgid) if pid_alive(pid))  # not zombies
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            title = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if marker in environ and title.startswith(b"airflow"):
            found.add(int(entry.name))
    return sorted(found)


def test_local_airflow_up_run_a_dag_through_the_api_and_down(airflow_db, kafka, settings):
    with connect(settings, autocommit=True) as conn:
        sources.seed(conn)
    # The session's STACK_HOME and metadata database (migrated once); this test's sources.
    user = settings.model_copy(
        update={
            "stack_backend": "external",
            "stack_home": airflow_db.stack_home,
            "airflow_db": airflow_db.airflow_db,
            "airflow_port": airflow_db.airflow_port,
            "airflow_executable": airflow_db.airflow_executable,
        }
    )
    airflow_home = airflow_db.stack_home / "airflow"
    groups: set[int] = set()
    try:
        up = run_stack(user, "up", "--airflow", timeout=600)
        assert up.returncode == 0, up.stderr
        assert "airflow" in up.stderr and "up to date" in up.stderr  # no second migration

        status = run_stack(user, "status", "--json")
        assert status.returncode == 0, status.stdout + status.stderr
        assert json.loads(status.stdout)["services"]["airflow"]["healthy"] is True
        groups = set(LocalAirflow(user).pids().values())
        assert len(groups) == len(COMPONENTS)
        assert len(airflow_processes(airflow_home, groups)) > len(COMPONENTS)  # + their workers

        ran = run_stack(user, "airflow", "run", "load_postgres_to_snowflake", "--json", timeout=600)
        assert ran.returncode == 0, ran.stdout + ran.stderr
        result = json.loads(ran.stdout)
        assert result["state"] == "success"
        assert {t["task_id"]: t["state"] for t in result["tasks"]} == {
            "load": "success",
            "dbt_build": "success",
        }
        listed = json.loads(run_stack(user, "airflow", "dags", "--json", check=True).stdout)
        last = {d["dag_id"]: d["last_run_state"] for d in listed["dags"]}
        assert last["load_postgres_to_snowflake"] == "success"
    finally:
        down = run_stack(user, "down")
    assert down.returncode == 0, down.stderr
    assert "airflow" in down.stderr and "stopped" in down.stderr
    left = airflow_processes(airflow_home, groups)
    assert left == [], [process_cmdline(pid) for pid in left]
