"""Real services for the tests: a PostgreSQL server and a Kafka broker, each started once a
session, and only when a test needs it (`just test tests/batch` starts no broker).

By default the session starts its own local-backend instances (temporary STACK_HOME, free
ports) so tests never touch the developer's data, and stops them at the end. With
STACK_TEST_USE_RUNNING=1 the tests use the services named by the environment / `.env`
instead (tests that restart PostgreSQL then need the local backend to be the one running).

Each test gets its own database, topic and consumer group through the `settings` fixture;
tests that need Kafka ask for the `kafka` fixture (every test under tests/realtime does).
Helpers live in tests/helpers.py and each area's helpers module, not here.
"""

from __future__ import annotations

import faulthandler
import importlib.util
import os
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from stack.services import Backend, get_backend
from stack.services.ephemeral import ephemeral_home, scratch_database
from stack.settings import Settings, load_settings

USE_RUNNING = os.environ.get("STACK_TEST_USE_RUNNING") == "1"

# tests/airflow run in the airflow env (`just test-airflow`); elsewhere Airflow is not installed.
collect_ignore = [] if importlib.util.find_spec("airflow") else ["airflow"]


# Seconds the interpreter may take to exit once pytest is done (CI once sat 75 minutes past
# the summary line: something a test left behind held the process open).
EXIT_GRACE = 120


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    """Past EXIT_GRACE, the threads' stacks go to stderr and the run exits 1: a hang at exit
    is a failure with a stack, not a CI timeout."""
    faulthandler.dump_traceback_later(EXIT_GRACE, exit=True, file=sys.__stderr__)


@dataclass
class Services:
    settings: Settings
    backend: Backend
    started_here: bool

    def restart_postgres(self) -> None:
        self.backend.restart("postgres")


@pytest.fixture(scope="session")
def _session_home():
    """The session's settings and backend; nothing started yet."""
    if USE_RUNNING:
        settings = load_settings()
        yield Services(settings, get_backend(settings), started_here=False)
        return
    with ephemeral_home() as (settings, backend):
        yield Services(settings, backend, started_here=True)


@pytest.fixture(scope="session")
def postgres(_session_home: Services) -> Services:
    """The session's PostgreSQL server, started on first use."""
    if _session_home.started_here:
        list(_session_home.backend.up(["postgres"]))
    return _session_home


@pytest.fixture(scope="session")
def kafka(_session_home: Services) -> Services:
    """The session's Kafka broker, started on first use."""
    if _session_home.started_here:
        list(_session_home.backend.up(["kafka"]))
    return _session_home


@pytest.fixture(scope="session")
def services(postgres: Services, kafka: Services) -> Services:
    """Both services."""
    return postgres


@pytest.fixture
def settings(postgres: Services, tmp_path: Path) -> Settings:
    """Settings for one test: a fresh database, topic, consumer group, warehouse file and
    batch folders."""
    suffix = uuid.uuid4().hex[:10]
    with scratch_database(
        postgres.settings,
        transactions_topic=f"transactions-{suffix}",
        consumer_group=f"sink-{suffix}",
        warehouse_duckdb_path=tmp_path / "warehouse.duckdb",
        batch_incoming_dir=tmp_path / "incoming",
        batch_rejected_dir=tmp_path / "rejected",
    ) as configured:
        yield configured


@pytest.fixture
def stack_cli(settings: Settings):
    """`stack_cli("status", "--json")` runs the CLI against this test's settings."""
    from tests.helpers import run_stack

    def run(*args: str, **kwargs):
        return run_stack(settings, *args, **kwargs)

    return run
