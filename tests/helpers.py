"""Helpers every test area uses: the CLI in a child process, a query on the test database."""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg

from stack.settings import PROJECT_ROOT, Settings


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


def query(settings: Settings, statement: str, params: tuple | list = ()) -> list[tuple]:
    """All rows of one statement on the settings' database."""
    with psycopg.connect(settings.postgres_conninfo()) as conn:
        return conn.execute(statement, params).fetchall()
