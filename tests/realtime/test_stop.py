"""Bounded consumes end: an idle stop decided while Quix is still starting its loop is not lost."""

from __future__ import annotations

import json

from stack.realtime.topics import ensure_topic
from tests.helpers import run_stack


def test_idle_consume_of_an_empty_topic_ends_at_once(settings):
    ensure_topic(settings)
    for _ in range(3):  # the race is in the first second of each run
        result = run_stack(
            settings, "consume", "--idle-timeout", "0", "--no-windows", "--json", timeout=90
        )
        assert result.returncode == 0, result.stderr[-2000:]
        summary = json.loads(result.stdout)
        assert (summary["messages"], summary["stopped_by"]) == (0, "idle")
