"""Real services for the tests: a PostgreSQL server and a Kafka broker, started once a session.

By default the session starts its own local-backend instance (temporary STACK_HOME, free
ports) so tests never touch the developer's data, and stops it at the end. With
STACK_TEST_USE_RUNNING=1 the tests use the services named by the environment / `.env`
instead (tests that restart PostgreSQL then need the local backend to be the one running).

Each test gets its own database, topic and consumer group through the `settings` fixture.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from stack.services import Backend, get_backend
from stack.services.ephemeral import ephemeral_services, scratch_database
from stack.settings import PROJECT_ROOT, Settings, load_settings


@dataclass
class Services:
    settings: Settings
    backend: Backend
    started_here: bool

    def restart_postgres(self) -> None:
        self.backend.restart("postgres")


@pytest.fixture(scope="session")
def services() -> Services:
    if os.environ.get("STACK_TEST_USE_RUNNING") == "1":
        settings = load_settings()
        yield Services(settings, get_backend(settings), started_here=False)
        return
    with ephemeral_services() as (settings, backend):
        yield Services(settings, backend, started_here=True)


@pytest.fixture
def settings(services: Services, tmp_path: Path) -> Settings:
    """Settings for one test: a fresh database, topic, consumer group, warehouse file and
    batch folders."""
    suffix = uuid.uuid4().hex[:10]
    with scratch_database(
        services.settings,
        transactions_topic=f"transactions-{suffix}",
        consumer_group=f"sink-{suffix}",
        warehouse_duckdb_path=tmp_path / "warehouse.duckdb",
        batch_incoming_dir=tmp_path / "incoming",
        batch_rejected_dir=tmp_path / "rejected",
    ) as configured:
        yield configured


def run_stack(
    settings: Settings,
    *args: str,
    timeout: float = 300,
    check: bool = False,
    extra_env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess:
    """Run the `stack` CLI in a child process configured by `settings`, as a user would."""
    env = {**os.environ, **settings.as_env(), **(extra_env or {})}
    result = subprocess.run(
        [sys.executable, "-m", "stack", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=PROJECT_ROOT,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"stack {' '.join(args)} exited {result.returncode}\n"
            f"stdout: {result.stdout}\nstderr: {result.stderr}"
        )
    return result


@pytest.fixture
def stack_cli(settings: Settings):
    """`stack_cli("status", "--json")` runs the CLI against this test's settings."""

    def run(*args: str, **kwargs) -> subprocess.CompletedProcess:
        return run_stack(settings, *args, **kwargs)

    return run
