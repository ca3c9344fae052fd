"""Kafka killed (-9) and restarted mid-stream, with the producer, the consumer and its window
process left running: they ride it out by themselves, say so in a few lines (not librdkafka's
hundreds), and the sink, the dead letters and the window totals come out exact.

The session's broker is shared by every test: this one gets a broker of its own."""

from __future__ import annotations

import json
import os
import signal
import time

import psycopg
import pytest

from stack.realtime.topics import OffsetsProbe, windows_group
from stack.services.ephemeral import ephemeral_home
from stack.services.process import pid_alive
from tests.realtime.helpers import (
    dlq_reasons,
    expected_run,
    finish,
    produce_args,
    query,
    sink_count,
    sink_state,
    start_stack,
    wait_until,
    window_mismatches,
)

SEED, COUNT, RATE, BAD_RATIO = 23, 24_000, 1200, 0.01


@pytest.fixture
def own_broker(settings):
    """(settings pointed at a broker of this test's own, that broker)."""
    with ephemeral_home("stack-broker-") as (broker_settings, backend):
        list(backend.up(["kafka"]))
        moved = settings.model_copy(
            update={
                name: getattr(broker_settings, name)
                for name in ("kafka_port", "kafka_bootstrap_servers", "kafka_controller_port")
            }
        )
        yield moved, backend.kafka


def counted(settings) -> int:
    """Transactions in the window totals."""
    try:
        return query(settings, "SELECT sum(transactions) FROM merchant_minute_totals")[0][0] or 0
    except psycopg.errors.UndefinedTable:
        return 0


def everything_in(settings, expected) -> bool:
    if counted(settings) != len(expected.newest) or sink_state(settings) != expected.newest:
        return False
    if dlq_reasons(settings) != expected.malformed:
        return False
    with OffsetsProbe(settings, windows_group(settings)) as probe:  # read to the end
        return sum(p.lag for p in probe.lag(settings.transactions_topic)) == 0


def test_broker_killed_and_restarted_mid_stream(own_broker):
    settings, kafka = own_broker
    producer = start_stack(
        settings, *produce_args(COUNT, SEED, rate=RATE, bad_ratio=BAD_RATIO), "--json"
    )
    # No --idle-timeout: the producer may stay quiet for a while after the restart (its
    # reconnect backoff). It runs until everything is in, then SIGTERM stops it.
    consumer = start_stack(settings, "consume", "--commit-interval", "0.3", "--json")
    expected = expected_run(SEED, COUNT, bad_ratio=BAD_RATIO, step_ms=1000 / RATE)
    try:
        wait_until(lambda: sink_count(settings) > 2000, timeout=180, what="the first rows")
        pid = kafka.pid()
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: not pid_alive(pid), timeout=30, what="the broker gone")
        time.sleep(6)
        kafka.up()
        produced = json.loads(finish(producer, timeout=300)[0])
        try:
            wait_until(
                lambda: (
                    sink_count(settings) == len(expected.newest)
                    and counted(settings) == len(expected.newest)
                ),
                timeout=300,
                what="every transaction in the sink and the window totals",
            )
        except AssertionError as error:  # say which fell short, and what the consumer said
            consumer.send_signal(signal.SIGTERM)
            try:
                stdout, stderr = consumer.communicate(timeout=60)
            except Exception:
                consumer.kill()
                stdout, stderr = consumer.communicate()
            raise AssertionError(
                f"{error}: sink {sink_count(settings)}, window totals {counted(settings)}, "
                f"expected {len(expected.newest)}\n{stdout}\n{stderr}"
            ) from None
        time.sleep(1)  # what is still on its way (a replay) would show up
        consumer.send_signal(signal.SIGTERM)
        stdout, stderr = finish(consumer, timeout=120)
    finally:
        for process in (producer, consumer):
            if process.poll() is None:
                process.kill()
    assert produced["events"] == COUNT
    summary = json.loads(stdout)
    said = f"{summary}\n{stderr}"
    assert (summary["stopped_by"], summary["windows"]["stopped_by"]) == ("signal", "parent"), said
    assert summary["messages"] == summary["windows"]["messages"] == COUNT, said  # once each
    assert sink_state(settings) == expected.newest, said
    assert dlq_reasons(settings) == expected.malformed
    assert window_mismatches(settings) == []
    assert counted(settings) == len(expected.newest)

    assert "Kafka unavailable" in stderr and "Kafka is back" in stderr, stderr
    assert "Traceback" not in stderr and "%3|" not in stderr and "rdkafka" not in stderr, stderr
    assert len(stderr.strip().splitlines()) < 20, stderr  # a few notices, not raw log lines
