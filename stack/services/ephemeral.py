"""Throw-away services for tests and benchmarks: a local-backend PostgreSQL and Kafka in a
temporary STACK_HOME on free ports, so they never touch the developer's stack."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
from psycopg import sql

from stack.services.local import LocalBackend
from stack.settings import Settings, load_settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def ephemeral_home(prefix: str = "stack-test-") -> Iterator[tuple[Settings, LocalBackend]]:
    """Settings for a temporary STACK_HOME on free ports, and the local backend over it,
    nothing started: start what you need with `backend.up([...])`. Whatever was started is
    stopped, and the home deleted, afterwards."""
    # Not under a mode-700 directory: when we are root, PostgreSQL runs as `nobody`, which
    # must be able to walk down to its data directory.
    home = Path(tempfile.mkdtemp(prefix=prefix, dir=os.environ.get("STACK_EPHEMERAL_DIR", "/tmp")))
    home.chmod(0o755)
    settings = load_settings(
        stack_backend="local",
        stack_home=home,
        postgres_host="localhost",
        postgres_port=free_port(),
        postgres_db="stack_test",
        kafka_port=(kafka_port := free_port()),
        kafka_bootstrap_servers=f"localhost:{kafka_port}",
        kafka_controller_port=free_port(),
        warehouse_duckdb_path=home / "warehouse.duckdb",
    )
    backend = LocalBackend(settings)
    try:
        yield settings, backend
    finally:
        list(backend.down())
        shutil.rmtree(home, ignore_errors=True)


@contextlib.contextmanager
def ephemeral_services(
    prefix: str = "stack-test-", services: list[str] | None = None
) -> Iterator[tuple[Settings, LocalBackend]]:
    """`services` (default: all) started in an ephemeral_home."""
    with ephemeral_home(prefix) as (settings, backend):
        list(backend.up(services))
        yield settings, backend


@contextlib.contextmanager
def scratch_database(settings: Settings, prefix: str = "t_", **updates) -> Iterator[Settings]:
    """A new, empty database on the server `settings` names; yields settings for it (with any
    other `updates`), drops it afterwards."""
    name = f"{prefix}{uuid.uuid4().hex[:10]}"
    admin = settings.postgres_conninfo("postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield settings.model_copy(update={"postgres_db": name, **updates})
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
