"""The commands as a user meets them: `stack stream` ends by itself with a summary, and bad
options or unreachable services give one line and a non-zero exit."""

from __future__ import annotations

import json

import pytest

from tests.realtime.helpers import window_mismatches


def test_stream_produces_and_consumes_a_bounded_demo(settings, stack_cli):
    result = stack_cli(
        "stream",
        "--count",
        "3000",
        "--seed",
        "4",
        "--bad-ratio",
        "0.02",
        "--idle-timeout",
        "1",
        "--json",
        check=True,
    )
    summary = json.loads(result.stdout)
    produced, consumed = summary["produced"], summary["consumed"]
    assert produced["events"] == 3000 and produced["malformed"] > 0
    assert consumed["messages"] == 3000
    assert consumed["sink_rows"] == produced["unique_transactions"]
    assert consumed["dlq_rows"] == produced["malformed"]
    assert consumed["windows"]["stopped_by"] == "idle"
    assert window_mismatches(settings) == []
    assert "Traceback" not in result.stderr


def test_human_summaries(stack_cli):
    produced = stack_cli(
        "produce", "--count", "500", "--seed", "1", "--bad-ratio", "0.1", check=True
    )
    assert "produced 500 events" in produced.stderr and "malformed" in produced.stderr
    consumed = stack_cli("consume", "--max-messages", "200", "--no-windows", check=True)
    assert "consumed 200 messages" in consumed.stderr
    assert "stopped: max_messages" in consumed.stderr
    assert "to start and join the group" in consumed.stderr  # how long it waited for what


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("produce", "--bad-ratio", "2"), "--bad-ratio"),
        (("produce", "--count", "-1"), "--count"),
        (("consume", "--max-messages", "0"), "--max-messages"),
    ],
)
def test_bad_options_give_one_line_and_exit_1(stack_cli, args, message):
    result = stack_cli(*args)
    assert result.returncode == 1
    assert message in result.stderr and "Traceback" not in result.stderr


def test_unreachable_kafka_is_one_line_and_exit_3(stack_cli):
    result = stack_cli(
        "produce", "--count", "1", extra_env={"KAFKA_BOOTSTRAP_SERVERS": "localhost:1"}
    )
    assert result.returncode == 3, result.stderr
    assert "Kafka at localhost:1" in result.stderr and "Traceback" not in result.stderr
