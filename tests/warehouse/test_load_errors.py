"""`stack load` when the machine fails it: each cause is one line that names it, with the exit
code the docs give (2 a setting, 3 a service lost, 1 otherwise), never a traceback and never
a different error in its place."""

from __future__ import annotations

import os
import sys
import textwrap

import pytest

from stack.db import connect
from stack.errors import ServiceError
from stack.settings import PROJECT_ROOT
from stack.warehouse.load import load
from tests.helpers import run_stack
from tests.warehouse import sources


@pytest.fixture
def seeded(settings):
    with connect(settings, autocommit=True) as conn:
        sources.seed(conn, realtime=20_000)
    return settings


def test_a_full_disk_is_reported_as_such(seeded):
    """The warehouse file cannot grow (RLIMIT_FSIZE stands in for a full disk): the error is
    the write's own, not the failed rollback that follows it."""
    import subprocess

    child = textwrap.dedent(
        """
        import resource, signal
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails, EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (600_000, 600_000))
        from stack.cli import main
        import sys
        sys.argv = ["stack", "load"]
        main()
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", child],
        env={**os.environ, **seeded.as_env()},
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert "File too large" in result.stderr, result.stderr[-2000:]
    assert "cannot rollback" not in result.stderr


@pytest.mark.parametrize("where", ["/proc/stack/warehouse.duckdb", "/etc/hostname/wh.duckdb"])
def test_an_impossible_warehouse_path_names_the_setting(settings, where):
    result = run_stack(settings, "load", extra_env={"WAREHOUSE_DUCKDB_PATH": where})
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert "WAREHOUSE_DUCKDB_PATH" in result.stderr and where in result.stderr


def test_open_errors_say_their_cause():
    from stack.warehouse.targets.duckdb import describe_open_error

    lock = (
        'IO Error: Could not set lock on file "/w.duckdb": Conflicting lock is held in '
        "/usr/bin/python3 (PID 42). See also https://duckdb.org/docs/current/connect/concurrency"
    )
    assert "another `stack load`" in describe_open_error(lock)
    assert "PID 42" in describe_open_error(lock)
    denied = 'IO Error: Cannot open file "/w.duckdb": Permission denied'
    assert "another" not in describe_open_error(denied)
    assert "permission" in describe_open_error(denied).lower()
    read_only = 'IO Error: Cannot open file "/w.duckdb": Read-only file system'
    assert "another" not in describe_open_error(read_only)


def test_postgres_lost_mid_load_is_exit_3(seeded):
    """The source goes away while a table is extracted: a service error (exit 3), and the
    table's watermark does not move."""

    def kill_sessions(event):
        if event.kind == "start" and event.item == "transactions_sink":
            with connect(seeded, autocommit=True) as admin:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )

    with pytest.raises(ServiceError, match="PostgreSQL") as lost:
        load(seeded, on_event=kill_sessions)
    assert "transactions_sink" in str(lost.value)
    assert lost.value.exit_code == 3
    again = load(seeded)  # the source is back (it never went away): the rerun is whole
    assert {t.table: t.status for t in again.tables}["transactions_sink"] == "loaded"
