"""Crash safety: a consumer SIGKILLed mid-stream, and PostgreSQL restarted mid-stream; either
way the result is exact (nothing lost, nothing duplicated)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from stack.realtime.topics import OffsetsProbe
from stack.settings import PROJECT_ROOT
from tests.helpers import run_stack
from tests.realtime.helpers import (
    START,
    children_of,
    dlq_reasons,
    expected_run,
    finish,
    query,
    sink_count,
    sink_state,
    stack_env,
    start_stack,
    wait_until,
)

SEED, COUNT, BAD_RATIO = 13, 40_000, 0.002


def produce(settings, count: int = COUNT, seed: int = SEED) -> None:
    run_stack(
        settings,
        "produce",
        "--count",
        str(count),
        "--seed",
        str(seed),
        "--start",
        START.isoformat(),
        "--bad-ratio",
        str(BAD_RATIO),
        check=True,
    )


def writer_connections(settings) -> int:
    """Sessions of other processes on the test database (the consumer's writer)."""
    return query(
        settings,
        "SELECT count(*) FROM pg_stat_activity WHERE datname ="
        " current_database() AND pid <> pg_backend_pid()",
    )[0][0]


def test_consumer_killed_mid_stream_loses_and_duplicates_nothing(settings):
    produce(settings)
    expected = expected_run(SEED, COUNT, bad_ratio=BAD_RATIO)
    kills = []
    # Kill twice, at different points of the stream (the first time with the window process).
    for threshold, windows in ((1, "--windows"), (len(expected.newest) // 2, "--no-windows")):
        consumer = start_stack(settings, "consume", windows, "--commit-interval", "0.2")
        rows = wait_until(
            lambda t=threshold: (n := sink_count(settings)) >= t and n,
            timeout=120,
            every=0.02,
            what=f"{threshold} sink rows",
        )
        consumer.send_signal(signal.SIGKILL)
        consumer.wait()
        kills.append(rows)
        # its writer and window processes notice and go away; what was not committed rolls back
        wait_until(lambda: writer_connections(settings) == 0, timeout=30, what="writer gone")
        wait_until(lambda: not children_of(settings), timeout=30, what="children gone")
    assert kills[0] < len(expected.newest) and kills[1] < len(expected.newest), kills

    result = run_stack(
        settings, "consume", "--no-windows", "--idle-timeout", "1", "--json", check=True
    )
    assert json.loads(result.stdout)["stopped_by"] == "idle"
    assert sink_state(settings) == expected.newest
    assert dlq_reasons(settings) == expected.malformed  # once each: unique per offset


def test_killed_between_the_postgres_commit_and_the_offset_commit(settings):
    produce(settings, count=COUNT // 4)
    expected = expected_run(SEED, COUNT // 4, bad_ratio=BAD_RATIO)
    script = Path(__file__).with_name("crash_after_commit.py")
    killed = subprocess.run(
        [sys.executable, str(script), "consume", "--no-windows"],
        env=stack_env(settings),
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    # The rows of the first checkpoint are in PostgreSQL, but Kafka has no offset for them.
    assert sink_count(settings) > 0
    with OffsetsProbe(settings, settings.consumer_group) as probe:
        assert all(p.committed is None for p in probe.lag(settings.transactions_topic))

    run_stack(settings, "consume", "--no-windows", "--idle-timeout", "1", check=True)
    assert sink_state(settings) == expected.newest
    assert dlq_reasons(settings) == expected.malformed


def test_postgres_restarted_mid_stream_the_consumer_recovers_exactly(services, settings):
    produce(settings, count=COUNT // 2)
    consumer = start_stack(
        settings,
        "consume",
        "--no-windows",
        "--idle-timeout",
        "2",
        "--commit-interval",
        "0.2",
        "--json",
    )
    try:
        wait_until(lambda: sink_count(settings) > 0, timeout=120, every=0.02, what="first rows")
        services.backend.postgres.down()
        # the rest of the stream arrives while PostgreSQL is down
        run_stack(
            settings,
            "produce",
            "--count",
            str(COUNT // 2),
            "--seed",
            str(SEED + 1),
            "--start",
            START.isoformat(),
            check=True,
        )
    finally:
        services.backend.postgres.up()
    stdout, stderr = finish(consumer)
    assert "PostgreSQL unavailable" in stderr
    assert "resumed" in stderr
    assert json.loads(stdout)["stopped_by"] == "idle"
    expected = expected_run(SEED, COUNT // 2, bad_ratio=BAD_RATIO)
    second = expected_run(SEED + 1, COUNT // 2)
    assert sink_state(settings) == {**expected.newest, **second.newest}
    assert dlq_reasons(settings) == expected.malformed


def test_sigterm_finishes_the_checkpoint_and_exits_0(settings):
    produce(settings, count=COUNT // 4)
    expected = expected_run(SEED, COUNT // 4, bad_ratio=BAD_RATIO)
    consumer = start_stack(settings, "consume", "--json")  # no stop condition: runs until told
    wait_until(lambda: sink_count(settings) == len(expected.newest), timeout=120, what="all rows")
    consumer.send_signal(signal.SIGTERM)
    stdout, stderr = finish(consumer, timeout=90)
    summary = json.loads(stdout)
    assert summary["stopped_by"] == "signal"
    assert summary["windows"]["stopped_by"] == "parent"  # stopped by `stack consume`
    with OffsetsProbe(settings, settings.consumer_group) as probe:
        assert sum(p.lag for p in probe.lag(settings.transactions_topic)) == 0
    assert sink_state(settings) == expected.newest
    assert "Traceback" not in stderr
