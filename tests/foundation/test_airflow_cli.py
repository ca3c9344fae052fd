"""`stack airflow ...` where Airflow is missing or not running: one line that says what to do,
the right exit code, no traceback. (The commands against a running Airflow: tests/airflow.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from stack.services.ephemeral import free_port
from stack.settings import PROJECT_ROOT


def stack(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "stack", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=PROJECT_ROOT,
        timeout=120,
    )


def test_airflow_not_installed_says_how_to_install_it(tmp_path):
    result = stack("airflow", "init", AIRFLOW_EXECUTABLE=str(tmp_path / "nowhere" / "airflow"))
    assert result.returncode == 2
    assert "AIRFLOW_EXECUTABLE=" in result.stderr and "does not exist" in result.stderr
    assert "Traceback" not in result.stderr

    no_hatch = stack("airflow", "init", PATH=str(tmp_path), AIRFLOW_EXECUTABLE="")
    assert no_hatch.returncode == 2
    assert "Airflow is not installed: run `just airflow-env`" in no_hatch.stderr
    assert "Traceback" not in no_hatch.stderr


def test_run_and_dags_without_a_running_airflow_fail_in_one_line():
    port = str(free_port())
    for args in (["airflow", "run", "load_postgres_to_snowflake"], ["airflow", "dags"]):
        result = stack(*args, AIRFLOW_PORT=port)
        assert result.returncode == 3, result.stderr
        assert f"Airflow is not answering at http://localhost:{port}" in result.stderr
        assert "stack up --airflow" in result.stderr
        assert "Traceback" not in result.stderr


def test_run_rejects_a_conf_that_is_not_a_json_object():
    result = stack("airflow", "run", "x", "--conf", "[1, 2]")
    assert result.returncode == 2
    assert "--conf must be a JSON object" in result.stderr


def test_ui_prints_the_address_from_the_port_setting():
    result = stack("airflow", "ui", AIRFLOW_PORT="18123")
    assert result.returncode == 0
    assert result.stdout.strip() == "http://localhost:18123"


def test_config_masks_the_airflow_secrets():
    secrets = {"AIRFLOW_ADMIN_PASSWORD": "admin-pw-9c1e", "AIRFLOW_JWT_SECRET": "jwt-secret-4d2b"}
    result = stack("config", "--json", **secrets)
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    for name, value in secrets.items():
        assert shown[name] == "********"
        assert value not in result.stdout + result.stderr


def test_an_airflow_env_without_the_stack_is_named(tmp_path):
    bin_dir = tmp_path / "env" / "bin"
    bin_dir.mkdir(parents=True)
    for name in ("airflow", "python"):  # a python that cannot import the stack
        (bin_dir / name).write_text("#!/bin/sh\nexit 1\n")
        (bin_dir / name).chmod(0o755)
    result = stack(
        "airflow", "up", AIRFLOW_EXECUTABLE=str(bin_dir / "airflow"), STACK_HOME=str(tmp_path)
    )
    assert result.returncode == 2, result.stderr
    assert "the stack is not installed in Airflow's env" in result.stderr
    assert "just airflow-env" in result.stderr
