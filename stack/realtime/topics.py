"""The `transactions` topic: creating it, and reading its end offsets and a group's lag."""

from __future__ import annotations

import time
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from stack.errors import ServiceError
from stack.settings import Settings

# Consumer settings that make group joins and failovers quick on a local single broker
# (a group join waits about half the session timeout; the default 45 s is made for fleets).
FAST_GROUP = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 1000}


def windows_group(settings: Settings) -> str:
    """The consumer group of the window-totals Application (windows.py)."""
    return f"{settings.consumer_group}-windows"


def _quiet(settings: Settings) -> dict:
    # librdkafka logs every refused connection; callers turn failures into one message.
    return {"bootstrap.servers": settings.kafka_bootstrap_servers, "log_level": 0}


def ensure_topic(settings: Settings, partitions: int | None = None, timeout: float = 30) -> int:
    """Create the transactions topic if missing; return its partition count."""
    topic = settings.transactions_topic
    wanted = partitions or settings.transactions_partitions
    admin = AdminClient(_quiet(settings))
    deadline = time.monotonic() + timeout
    while True:
        try:
            # All topics, not list_topics(topic=...): asking for one by name makes a broker
            # with auto.create.topics.enable create it, with its default partition count.
            metadata = admin.list_topics(timeout=5)
        except KafkaException as error:
            raise ServiceError(
                f"Kafka at {settings.kafka_bootstrap_servers} does not answer "
                f"({error.args[0].str()}); is it up? `stack up`"
            ) from None
        found = metadata.topics.get(topic)
        if found is not None and found.error is None and found.partitions:
            return len(found.partitions)
        if time.monotonic() > deadline:
            raise ServiceError(f"topic {topic} was not created within {timeout:.0f} s")
        future = admin.create_topics(
            [NewTopic(topic, num_partitions=wanted, replication_factor=1)], operation_timeout=10
        )[topic]
        try:
            future.result(timeout=15)
        except KafkaException as error:
            if "TOPIC_ALREADY_EXISTS" not in error.args[0].name():
                raise ServiceError(f"cannot create topic {topic}: {error.args[0].str()}") from None
        time.sleep(0.2)


@dataclass
class PartitionLag:
    partition: int
    start: int  # the oldest offset still stored (low watermark)
    end: int  # the next offset to be written (high watermark)
    committed: int | None  # the group's committed offset; None when it has none

    @property
    def lag(self) -> int:
        """Records the group has yet to commit (all stored ones when it committed none)."""
        return max(0, self.end - (self.start if self.committed is None else self.committed))


class OffsetsProbe:
    """Reads end offsets and one group's committed offsets (without joining the group)."""

    def __init__(self, settings: Settings, group: str) -> None:
        self.settings = settings
        self.consumer = Consumer(
            {**_quiet(settings), "group.id": group, "enable.auto.commit": False}
        )

    def partitions(self, topic: str, timeout: float = 5) -> list[int] | None:
        """The topic's partitions, or None when it does not exist."""
        found = self.consumer.list_topics(timeout=timeout).topics.get(topic)  # see ensure_topic
        if found is None or found.error is not None or not found.partitions:
            return None
        return sorted(found.partitions)

    def lag(self, topic: str, timeout: float = 5) -> list[PartitionLag] | None:
        """Per partition: end offset, committed offset, lag. None when the topic is missing."""
        partitions = self.partitions(topic, timeout)
        if partitions is None:
            return None
        tps = [TopicPartition(topic, p) for p in partitions]
        committed = {tp.partition: tp.offset for tp in self.consumer.committed(tps, timeout)}
        result = []
        for p in partitions:
            low, high = self.consumer.get_watermark_offsets(TopicPartition(topic, p), timeout)
            offset = committed.get(p)
            result.append(
                PartitionLag(p, low, high, offset if offset is not None and offset >= 0 else None)
            )
        return result

    def close(self) -> None:
        self.consumer.close()

    def __enter__(self) -> OffsetsProbe:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
