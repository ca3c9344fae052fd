"""The `stack` command as a user runs it: status, sql, config and its error messages."""

from __future__ import annotations

import json

import pytest


@pytest.mark.usefixtures("kafka")
def test_status_json_reports_both_services_healthy(stack_cli):
    result = stack_cli("status", "--json", check=True)
    report = json.loads(result.stdout)
    assert set(report["services"]) >= {"postgres", "kafka"}
    for name in ("postgres", "kafka"):
        assert report["services"][name]["healthy"] is True, report["services"][name]
        assert report["services"][name]["address"]
    assert report["services"]["postgres"]["version"]


def test_status_exits_non_zero_when_a_service_is_down(stack_cli, settings):
    result = stack_cli("status", "--json", extra_env={"KAFKA_BOOTSTRAP_SERVERS": "localhost:1"})
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["services"]["kafka"]["healthy"] is False
    assert report["services"]["postgres"]["healthy"] is True


def test_sql_prints_rows_as_json(stack_cli):
    stack_cli("sql", "CREATE TABLE t (id int, amount numeric(12,2))", check=True)
    stack_cli("sql", "INSERT INTO t VALUES (1, 10.50), (2, NULL)", check=True)
    result = stack_cli("sql", "SELECT id, amount FROM t ORDER BY id", "--json", check=True)
    data = json.loads(result.stdout)
    assert data["columns"] == ["id", "amount"]
    assert data["rows"] == [{"id": 1, "amount": "10.50"}, {"id": 2, "amount": None}]


def test_sql_error_is_one_line_without_traceback(stack_cli):
    result = stack_cli("sql", "SELECT no_such_column")
    assert result.returncode != 0
    assert "no_such_column" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("topics",), "No such command 'topics'"),
        (("batch", "nope"), "No such command 'nope'"),
        (("consume", "--nope"), "No such option: --nope"),
        (("produce", "--count", "abc"), "valid integer"),
    ],
)
def test_a_usage_error_is_one_message_and_exit_2(stack_cli, args, says):
    result = stack_cli(*args)
    assert result.returncode == 2, result.stderr
    assert says in result.stderr
    assert "Traceback" not in result.stderr


def test_config_masks_the_password(stack_cli, settings):
    secret = "pw-that-must-not-show-7f3a"
    result = stack_cli("config", "--json", check=True, extra_env={"POSTGRES_PASSWORD": secret})
    shown = json.loads(result.stdout)
    assert shown["POSTGRES_PASSWORD"] == "********"
    assert secret not in result.stdout + result.stderr
    assert shown["POSTGRES_DB"] == settings.postgres_db


def test_invalid_setting_names_the_variable(stack_cli):
    result = stack_cli("config", extra_env={"POSTGRES_PORT": "not-a-port"})
    assert result.returncode == 2
    assert "POSTGRES_PORT" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 3  # one message (rich may wrap it)


def test_bad_kafka_bootstrap_names_the_variable(stack_cli):
    result = stack_cli("config", extra_env={"KAFKA_BOOTSTRAP_SERVERS": "localhost"})
    assert result.returncode == 2
    assert "KAFKA_BOOTSTRAP_SERVERS" in result.stderr


@pytest.mark.usefixtures("kafka")
def test_logs_show_the_servers_output(stack_cli, settings):
    for service in ("postgres", "kafka"):
        log = settings.stack_home / "logs" / f"{service}.log"
        last_line = log.read_text(errors="replace").strip().splitlines()[-1]
        shown = stack_cli("logs", service, check=True).stdout
        assert last_line in shown, f"{service}: the log's last line is not shown"
