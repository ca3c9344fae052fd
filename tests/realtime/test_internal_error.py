"""A message the stack fails on (a bug, not the input) is dead-lettered as `internal_error`,
the others are written, and `stack consume` exits 4, not 0 and not 1: a crash is not a reject."""

from __future__ import annotations

import json

from stack.realtime.generator import TransactionGenerator
from stack.realtime.topics import ensure_topic
from stack.realtime.writer_process import crash_log
from tests.helpers import run_stack
from tests.realtime.helpers import (
    START,
    dlq_reasons,
    send,
    sink_count,
    window_mismatches,
    with_injected_bug,
)


def test_a_message_the_stack_fails_on_is_dead_lettered_and_the_rest_go_on(settings):
    events = [(m.key, m.value) for m in TransactionGenerator(3, start=START).take(50)]
    ensure_topic(settings)
    send(settings, [*events[:20], (b"bug", events[20][1]), *events[20:]])

    result = run_stack(
        settings,
        "consume",
        "--idle-timeout",
        "1",
        "--json",
        timeout=300,
        extra_env={"PYTHONPATH": with_injected_bug()},
    )

    assert result.returncode == 4, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    summary = json.loads(result.stdout)
    assert summary["messages"] == 51 and summary["reasons"] == {"internal_error": 1}
    assert summary["exit_code"] == 4
    assert dlq_reasons(settings) == {"internal_error": 1}
    assert sink_count(settings) == len({key for key, _ in events})
    assert window_mismatches(settings) == []  # the window process left it out too
    assert "RuntimeError: injected by the test" in crash_log(settings).read_text()
