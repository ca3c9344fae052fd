"""`stack up/down/status` with the local backend, as a user runs them: a stack of its own
(temporary STACK_HOME, free ports), so the session's shared services are not touched."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest

from stack.errors import ServiceError
from stack.services.ephemeral import free_port
from stack.services.local import kafka as local_kafka
from stack.services.local import postgres as local_postgres
from stack.services.local.kafka import LocalKafka
from stack.services.local.postgres import LocalPostgres
from stack.services.process import pid_alive
from stack.settings import PROJECT_ROOT, load_settings


def make_env() -> dict[str, str]:
    home = Path(tempfile.mkdtemp(prefix="stack-cli-", dir="/tmp"))
    home.chmod(0o755)
    return {
        **os.environ,
        "STACK_BACKEND": "local",
        "STACK_HOME": str(home),
        "POSTGRES_HOST": "localhost",
        "POSTGRES_PORT": str(free_port()),
        "POSTGRES_DB": "clidb",
        "KAFKA_PORT": str(free_port()),
        "KAFKA_BOOTSTRAP_SERVERS": "",
        "KAFKA_CONTROLLER_PORT": str(free_port()),
        "WAREHOUSE_DUCKDB_PATH": str(home / "warehouse.duckdb"),
    }


def stack(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "stack", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT_ROOT,
        timeout=300,
    )


@pytest.fixture(scope="module")
def env():
    env = make_env()
    yield env
    stack(env, "down", "--wipe")


def settings_for(env: dict[str, str]):
    return load_settings(
        **{
            key.lower(): value
            for key, value in env.items()
            if key
            in {
                "STACK_HOME",
                "POSTGRES_HOST",
                "POSTGRES_PORT",
                "POSTGRES_DB",
                "KAFKA_PORT",
                "KAFKA_CONTROLLER_PORT",
                "KAFKA_BOOTSTRAP_SERVERS",
            }
        }
    )


def test_up_status_down_up_keeps_data_then_wipe_leaves_nothing(env):
    up = stack(env, "up")
    assert up.returncode == 0, up.stderr
    assert "postgres: initialised and started" in up.stderr
    assert "kafka: formatted and started" in up.stderr

    status = json.loads(stack(env, "status", "--json").stdout)
    assert status["backend"] == "local"
    assert {name: s["healthy"] for name, s in status["services"].items()} == {
        "postgres": True,
        "kafka": True,
    }

    again = stack(env, "up")
    assert again.returncode == 0 and "already running" in again.stderr

    created = stack(env, "sql", "CREATE TABLE kept (id int); INSERT INTO kept VALUES (42)")
    assert created.returncode == 0, created.stderr
    assert stack(env, "down").returncode == 0
    down_status = stack(env, "status", "--json")
    assert down_status.returncode == 1
    assert not any(s["healthy"] for s in json.loads(down_status.stdout)["services"].values())

    assert stack(env, "up").returncode == 0
    rows = json.loads(stack(env, "sql", "SELECT id FROM kept", "--json").stdout)["rows"]
    assert rows == [{"id": 42}]

    settings = settings_for(env)
    pg_pid, kafka_pid = LocalPostgres(settings).pid(), LocalKafka(settings).pid()
    wipe = stack(env, "down", "--wipe")
    assert wipe.returncode == 0, wipe.stderr
    assert "deleting:" in wipe.stderr
    for pid in (pg_pid, kafka_pid):
        assert pid and not pid_alive(pid), "a server is still running"
    home = Path(env["STACK_HOME"])
    assert not (home / "postgres").exists() and not (home / "kafka").exists()
    assert not list(home.glob("logs/*"))


def test_port_in_use_is_named_with_the_setting_to_change():
    env = make_env()
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        env["POSTGRES_PORT"] = str(blocker.getsockname()[1])
        result = stack(env, "up")
    assert result.returncode == 3
    assert f"port {env['POSTGRES_PORT']} is already in use" in result.stderr
    assert "POSTGRES_PORT" in result.stderr and "Traceback" not in result.stderr


def test_missing_postgres_binaries_say_what_to_install(monkeypatch):
    monkeypatch.setattr(local_postgres.shutil, "which", lambda name: None)
    monkeypatch.setattr(local_postgres.glob, "glob", lambda pattern: [])
    with pytest.raises(ServiceError, match=r"`pg_ctl` not found: install PostgreSQL"):
        LocalPostgres(settings_for(make_env())).up()


def test_missing_java_says_what_to_install(monkeypatch):
    real_which = local_kafka.shutil.which
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(
        local_kafka.shutil, "which", lambda name: None if name == "java" else real_which(name)
    )
    with pytest.raises(ServiceError, match=r"`java` not found: Kafka 4 needs Java 17"):
        LocalKafka(settings_for(make_env())).up()


def test_missing_kafka_and_maven_say_what_to_do(monkeypatch, tmp_path):
    real_which = local_kafka.shutil.which
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # no jars fetched yet
    monkeypatch.setattr(
        local_kafka.shutil, "which", lambda name: None if name == "mvn" else real_which(name)
    )
    with pytest.raises(ServiceError, match=r"no Kafka found: set KAFKA_HOME"):
        LocalKafka(settings_for(make_env())).up()


def test_stale_pid_files_are_cleared_and_damaged_data_dirs_are_named():
    env = make_env()
    settings = settings_for(env)
    dead = subprocess.Popen(["true"])
    dead.wait()
    try:
        assert stack(env, "up").returncode == 0
        assert stack(env, "down").returncode == 0
        # a crash leaves pid files behind, naming processes that no longer exist
        (settings.stack_home / "kafka" / "kafka.pid").write_text(f"{dead.pid}\n")
        pg_pid_file = settings.stack_home / "postgres" / "data" / "postmaster.pid"
        pg_pid_file.write_text(f"{dead.pid}\n{settings.stack_home}/postgres/data\n")
        up = stack(env, "up")
        assert up.returncode == 0, up.stderr
        assert stack(env, "down").returncode == 0

        (settings.stack_home / "postgres" / "data" / "PG_VERSION").unlink()
        damaged = stack(env, "up")
        assert damaged.returncode == 3
        assert "is not a PostgreSQL data directory" in damaged.stderr
        assert "stack down --wipe" in damaged.stderr
    finally:
        stack(env, "down", "--wipe")


def test_damaged_kafka_log_dir_is_named():
    env = make_env()
    settings = settings_for(env)
    data = settings.stack_home / "kafka" / "data"
    data.mkdir(parents=True)
    (data / "junk").write_text("not kafka")
    result = stack(env, "up")
    stack(env, "down", "--wipe")
    assert result.returncode == 3
    assert "damaged Kafka log dir" in result.stderr


def test_postgres_restart_in_process_keeps_connections_working(postgres, settings):
    # The session's own server: restart through the backend, then connect again.
    postgres.restart_postgres()
    with psycopg.connect(settings.postgres_conninfo()) as conn:
        assert conn.execute("SELECT 1").fetchall() == [(1,)]
