"""Rows do not wait for checkpoints: the sink commits them in PostgreSQL as they come, and the
Kafka offsets follow at the checkpoint (rows before offsets, never the other way round)."""

from __future__ import annotations

import signal

from confluent_kafka import Consumer, TopicPartition

from tests.helpers import run_stack
from tests.realtime.helpers import (
    expected_run,
    finish,
    produce_args,
    sink_count,
    sink_state,
    start_stack,
    wait_until,
)


def committed_offset(settings) -> int:
    """The group's committed offset on partition 0 (negative: none yet)."""
    consumer = Consumer(
        {"bootstrap.servers": settings.kafka_bootstrap_servers, "group.id": settings.consumer_group}
    )
    try:
        tp = TopicPartition(settings.transactions_topic, 0)
        return consumer.committed([tp], timeout=10)[0].offset
    finally:
        consumer.close()


def test_rows_are_committed_long_before_the_checkpoint(settings):
    run_stack(settings, *produce_args(300, seed=12), "--partitions", "1", check=True)
    expected = expected_run(12, 300)
    # A checkpoint every 10 minutes: the rows must not wait for it.
    process = start_stack(settings, "consume", "--no-windows", "--commit-interval", "600")
    try:
        wait_until(
            lambda: sink_count(settings) == len(expected.newest), what="every row in the sink"
        )
        assert committed_offset(settings) < 0  # no checkpoint yet: rows came first
        assert sink_state(settings) == expected.newest
    finally:
        process.send_signal(signal.SIGTERM)  # the last checkpoint: then the offsets
    finish(process)
    assert committed_offset(settings) == 300
