"""The sink's writer process SIGKILLed mid-stream is replaced, and nothing committed is lost or
written twice; the consumer SIGKILLed leaves its children exiting quietly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from stack.settings import PROJECT_ROOT
from tests.helpers import run_stack
from tests.realtime.helpers import (
    children_of,
    dlq_reasons,
    expected_run,
    finish,
    produce_args,
    sink_count,
    sink_state,
    stack_env,
    start_stack,
    wait_until,
    with_injected_bug,
)

SEED, COUNT, RATE, BAD_RATIO = 29, 24_000, 3000, 0.01
WRITER = "stack.realtime.writer_process"


def paced_producer(settings):
    return start_stack(settings, *produce_args(COUNT, SEED, rate=RATE, bad_ratio=BAD_RATIO))


def test_a_killed_writer_is_replaced_and_nothing_is_lost_or_written_twice(settings):
    producer = paced_producer(settings)
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
        for rows in (1000, 8000):  # twice, so that the new writer is killed too
            wait_until(lambda r=rows: sink_count(settings) >= r, timeout=180, what=f"{rows} rows")
            (writer,) = wait_until(lambda: children_of(settings, WRITER), what="the writer")
            os.kill(writer, signal.SIGKILL)
        finish(producer)
        stdout, stderr = finish(consumer)
    finally:
        for process in (producer, consumer):
            if process.poll() is None:
                process.kill()
    expected = expected_run(SEED, COUNT, bad_ratio=BAD_RATIO, step_ms=1000 / RATE)
    assert sink_state(settings) == expected.newest
    assert dlq_reasons(settings) == expected.malformed
    summary = json.loads(stdout)
    assert summary["messages"] == COUNT and summary["stopped_by"] == "idle"
    assert summary["dead_lettered"] == sum(expected.malformed.values())
    assert stderr.count("writer process died (killed by signal 9)") == 2, stderr
    assert "Traceback" not in stderr


def test_a_killed_consumer_leaves_its_children_exiting_quietly(settings):
    producer = paced_producer(settings)
    script = Path(__file__).with_name("die_during_commit.py")
    # killed while its writer commits, so that the writer answers a parent that is gone
    consumer = subprocess.Popen(
        [sys.executable, str(script), "consume", "--commit-interval", "0.2"],
        env=stack_env(settings),
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # its children share its stderr: that ends when the last of them has exited
        _, stderr = consumer.communicate(timeout=180)
    finally:
        producer.kill()
        producer.wait()
    assert consumer.returncode == -signal.SIGKILL, stderr
    assert not children_of(settings, "stack.realtime")
    assert sink_count(settings) > 0  # the writer committed before it noticed
    assert "Traceback" not in stderr and "Error" not in stderr, stderr


WINDOWS = "stack.realtime.windows"


def test_a_killed_window_process_stops_the_consumer_with_exit_1(settings):
    # Seen: the window process failed while the consumer, run without --idle-timeout, kept
    # its sink going for good; the window totals silently stopped.
    run_stack(settings, *produce_args(2000, SEED), check=True)
    rows = len(expected_run(SEED, 2000).newest)
    consumer = start_stack(settings, "consume", "--commit-interval", "0.2", "--json")
    try:
        wait_until(lambda: sink_count(settings) == rows, timeout=120, what="the sink's rows")
        (windows,) = wait_until(lambda: children_of(settings, WINDOWS), what="the window process")
        os.kill(windows, signal.SIGKILL)
        stdout, stderr = consumer.communicate(timeout=60)  # not a signal: it stops by itself
    finally:
        if consumer.poll() is None:
            consumer.kill()
    assert consumer.returncode == 1, f"{stdout}\n{stderr}"
    assert "the window-totals process failed (exit code -9)" in stderr, stderr
    assert "Traceback" not in stderr, stderr
    assert sink_count(settings) == rows  # what the sink committed stays


def test_a_window_process_that_fails_on_a_bug_stops_the_consumer_with_exit_1(settings):
    run_stack(settings, *produce_args(200, SEED), check=True)
    result = run_stack(
        settings,
        "consume",
        "--idle-timeout",
        "1",
        extra_env={"PYTHONPATH": with_injected_bug("inject_window_bug")},
    )
    assert result.returncode == 1, result.stderr
    assert "window totals: RuntimeError: injected by the test (traceback in" in result.stderr
    assert "Traceback" not in result.stderr, result.stderr  # it is in the log file
    log = settings.stack_home / "logs" / "window-totals.log"
    assert "RuntimeError: injected by the test" in log.read_text()
