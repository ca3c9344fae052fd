"""Airflow fixtures (these tests run in the airflow env: `just test-airflow`).

One Airflow metadata database for the whole session, migrated once, on the session's
PostgreSQL; this process's Airflow is configured exactly as the local processes are
(stack.orchestration.environment.airflow_env), so `dag.test()` runs the real DAG files
through the real task runner. Each test then points the stack's settings (the environment
the tasks read) and the `stack_postgres` connection at its own database.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from stack.orchestration.environment import DAGS_FOLDER, airflow_env, connection_env
from stack.orchestration.local import LocalAirflow
from stack.services.ephemeral import free_port
from tests.warehouse.conftest import fakesnow_port  # noqa: F401  (a fixture)

METADATA_DB = "airflow_test"


@pytest.fixture(scope="session")
def airflow_settings(postgres, tmp_path_factory):
    """Settings for Airflow's own side: the session's servers, the metadata database, a free
    API port and an AIRFLOW_HOME of the session."""
    home = tmp_path_factory.mktemp("stack-home")
    home.chmod(0o755)
    return postgres.settings.model_copy(
        update={
            "stack_home": home,
            "airflow_db": METADATA_DB,
            "airflow_port": free_port(),
            "airflow_executable": Path(sys.executable).with_name("airflow"),
        }
    )


@pytest.fixture(scope="session")
def airflow_db(airflow_settings):
    """Create and migrate the metadata database once; configure this process's Airflow."""
    assert "airflow" not in sys.modules, "Airflow was imported before it was configured"
    with psycopg.connect(airflow_settings.postgres_conninfo("postgres"), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(METADATA_DB))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(METADATA_DB)))
    # Migrated the way `stack up --airflow` does it, so the local-process test finds it done.
    started = time.monotonic()
    LocalAirflow(airflow_settings).prepare(airflow_settings.airflow_executable)
    print(f"airflow metadata database migrated in {time.monotonic() - started:.0f} s")
    os.environ.update(airflow_env(airflow_settings))
    return airflow_settings


@pytest.fixture
def task_env(airflow_db, monkeypatch):
    """Point the DAG tasks at `settings` (the environment they read, and the connections)."""

    def point(settings) -> None:
        for key, value in {**settings.as_env(), **connection_env(settings)}.items():
            monkeypatch.setenv(key, value)
        if settings.snowflake_account is None:
            monkeypatch.delenv("AIRFLOW_CONN_STACK_SNOWFLAKE", raising=False)

    return point


@pytest.fixture(scope="session")
def dagbag(airflow_db):
    from airflow.dag_processing.dagbag import BundleDagBag

    bag = BundleDagBag(
        dag_folder=str(DAGS_FOLDER), bundle_path=str(DAGS_FOLDER), bundle_name="dags-folder"
    )
    assert not bag.import_errors, bag.import_errors
    return bag
