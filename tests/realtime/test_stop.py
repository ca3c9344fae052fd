"""Bounded consumes end: an idle stop decided while Quix is still starting its loop is not lost,
and a member still joining its group is not idle."""

from __future__ import annotations

import json
import threading

from confluent_kafka import Consumer, TopicPartition

from stack.realtime.runner import StopWhen
from stack.realtime.topics import ensure_topic
from tests.helpers import run_stack
from tests.realtime.helpers import send


def test_idle_consume_of_an_empty_topic_ends_at_once(settings):
    ensure_topic(settings)
    for _ in range(3):  # the race is in the first second of each run
        result = run_stack(
            settings, "consume", "--idle-timeout", "0", "--no-windows", "--json", timeout=90
        )
        assert result.returncode == 0, result.stderr[-2000:]
        summary = json.loads(result.stdout)
        assert (summary["messages"], summary["stopped_by"]) == (0, "idle")


class _App:
    """What StopWhen uses of a Quix Application: its assignment callback and `stop()`."""

    def __init__(self) -> None:
        self.assignments: list[list] = []
        self.stopped = threading.Event()

    def _on_assign(self, consumer, partitions) -> None:
        self.assignments.append(partitions)

    def stop(self) -> None:
        self.stopped.set()


def test_a_member_is_not_idle_before_the_group_gives_it_its_partitions(settings):
    # The group has read everything (another member kept up): that says nothing about a
    # member still joining. Once it has its share (here: none), it is idle and stops.
    partitions = ensure_topic(settings)
    send(settings, [(b"k", b"{}")] * 3)
    commit_at_end(settings, partitions)
    stopper = StopWhen(
        settings, group=settings.consumer_group, topic=settings.transactions_topic, idle_timeout=0.2
    )
    app = _App()
    stopper.start(app)
    try:
        assert not app.stopped.wait(2.0), "stopped as idle before it had joined the group"
        app._on_assign(None, [])  # what Quix calls once the group has assigned this member
        assert app.assignments == [[]]  # Quix's own callback still runs
        assert app.stopped.wait(10), "a member without partitions in a read group never ended"
        assert stopper.reason == "idle"
    finally:
        stopper.close()


def commit_at_end(settings, partitions: int) -> None:
    consumer = Consumer(
        {"bootstrap.servers": settings.kafka_bootstrap_servers, "group.id": settings.consumer_group}
    )
    try:
        ends = []
        for partition in range(partitions):
            tp = TopicPartition(settings.transactions_topic, partition)
            ends.append(TopicPartition(tp.topic, partition, tp_end(consumer, tp)))
        consumer.commit(offsets=ends, asynchronous=False)
    finally:
        consumer.close()


def tp_end(consumer, tp) -> int:
    return consumer.get_watermark_offsets(tp, timeout=10)[1]
