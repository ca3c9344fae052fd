"""The `transactions` topic: creating it, and reading its end offsets and a group's lag."""

from __future__ import annotations

import concurrent.futures
import time
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic, TopicMetadata
from quixstreams.models.topics import TopicAdmin, TopicManager
from quixstreams.models.topics.exceptions import CreateTopicFailure, CreateTopicTimeout

from stack.errors import ServiceError
from stack.settings import Settings

# Consumer settings that make group joins and failovers quick on a local single broker
# (a group join waits about half the session timeout; the default 45 s is made for fleets).
FAST_GROUP = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 1000}
# librdkafka logs every refused connection, hundreds of lines per outage; its error callback
# still reports each failure, and callers turn those into one message (runner.py).
QUIET = {"log_level": 0}


_MISSING = (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC)


class KafkaUnavailable(ServiceError):
    """Kafka does not answer (down, restarting, unreachable)."""


def windows_group(settings: Settings) -> str:
    """The consumer group of the window-totals Application (windows.py)."""
    return f"{settings.consumer_group}-windows"


def _quiet(settings: Settings) -> dict:
    return {"bootstrap.servers": settings.kafka_bootstrap_servers, **QUIET}


def _listed(found: TopicMetadata | None) -> bool:
    """The broker's metadata has the topic, whole: no error, and its partitions."""
    return found is not None and found.error is None and bool(found.partitions)


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
            raise KafkaUnavailable(
                f"Kafka at {settings.kafka_bootstrap_servers} does not answer "
                f"({error.args[0].str()}); is it up? `stack up`"
            ) from None
        found = metadata.topics.get(topic)
        if _listed(found):
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


class _PromptTopicAdmin(TopicAdmin):
    """Quix's TopicAdmin, without its wait: Quix (3.28) checks the topics it created once a
    second, so an Application that creates its repartition and changelog topics (the window
    totals: three) started 3 s late. This returns as soon as the broker has answered and the
    topics are in its metadata (Quix reads them back at once: the controller answers a
    creation before the broker's metadata has it, by a few ms, or seconds on a loaded machine
    just after a restart, and Quix then says TopicNotFoundError)."""

    def _finalize_create(self, futures: dict, finalize_timeout: float = 60) -> None:
        deadline = time.monotonic() + finalize_timeout
        concurrent.futures.wait(futures.values(), timeout=finalize_timeout)
        failures = {}
        for name, future in futures.items():
            if not future.done():
                raise CreateTopicTimeout(f"Timed out waiting for creation status for {name}")
            try:
                future.result()
            except KafkaException as error:  # as Quix: one that exists already is created
                if error.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    failures[name] = error.args[0].str()
        if failures:
            raise CreateTopicFailure(f"Failed to create topics: {failures}")
        self._wait_visible(list(futures), deadline)

    def _wait_visible(self, names: list[str], deadline: float) -> None:
        while True:
            listed = self.list_topics(timeout=max(0.1, deadline - time.monotonic()))
            missing = [n for n in names if not _listed(listed.get(n))]
            if not missing:
                return
            if time.monotonic() > deadline:
                raise CreateTopicTimeout(f"created, but not in the broker's metadata: {missing}")
            time.sleep(0.05)


def topic_manager(settings: Settings, group: str) -> TopicManager:
    """What an Application that creates topics of its own takes as `topic_manager`."""
    admin = _PromptTopicAdmin(settings.kafka_bootstrap_servers, extra_config=QUIET)
    return TopicManager(topic_admin=admin, consumer_group=group)


@dataclass
class PartitionLag:
    partition: int
    start: int  # the oldest offset still stored (low watermark)
    end: int  # the next offset to be written (high watermark)
    committed: int | None  # the group's committed offset; None when it has none
    # Where a reader at the committed offset gets its next record (`end` when there is none):
    # a transaction's commit marker, and an aborted transaction's records, take offsets that
    # are never delivered. None when not looked at (nothing to read, or no answer in time).
    next_record: int | None = None

    @property
    def lag(self) -> int:
        """Records the group has yet to commit (all stored ones when it committed none);
        offsets that hold no record for it (transaction markers) do not count."""
        position = self.start if self.committed is None else self.committed
        if self.next_record is not None:
            position = max(position, self.next_record)
        return max(0, self.end - position)


class OffsetsProbe:
    """Reads end offsets and one group's committed offsets (without joining the group), and
    reads ahead of a committed offset to see whether any record follows it."""

    def __init__(self, settings: Settings, group: str) -> None:
        self.settings = settings
        self.consumer = Consumer(
            {
                **_quiet(settings),
                "group.id": group,
                "enable.auto.commit": False,
                "enable.partition.eof": True,  # "nothing more to read" is an answer too
                "isolation.level": "read_committed",  # what the stack's consumers read
                "fetch.wait.max.ms": 100,
                "max.partition.fetch.bytes": 65536,  # one record is enough to know
            }
        )

    def partitions(self, topic: str, timeout: float = 5) -> list[int] | None:
        """The topic's partitions, or None when it does not exist. KafkaException when the
        broker cannot say (a broker restarting reports its topics with errors for a while)."""
        found = self.consumer.list_topics(timeout=timeout).topics.get(topic)  # see ensure_topic
        if found is None or (found.error is not None and found.error.code() in _MISSING):
            return None
        if found.error is not None:
            raise KafkaException(found.error)
        if not found.partitions or any(p.error is not None for p in found.partitions.values()):
            raise KafkaException(
                KafkaError(KafkaError.LEADER_NOT_AVAILABLE, f"{topic} has no leader")
            )
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
        behind = [lag for lag in result if lag.lag]
        if behind:
            self._read_ahead(topic, behind, timeout)
        return result

    def _read_ahead(self, topic: str, lags: list[PartitionLag], timeout: float) -> None:
        """Set each lag's `next_record`: read from its committed offset (or the start) until a
        record or the end of the partition."""
        starts = {
            lag.partition: lag.start if lag.committed is None else lag.committed for lag in lags
        }
        found: dict[int, int] = {}
        self.consumer.assign([TopicPartition(topic, p, offset) for p, offset in starts.items()])
        deadline = time.monotonic() + timeout
        try:
            while len(found) < len(starts) and time.monotonic() < deadline:
                message = self.consumer.poll(0.1)
                if message is None or message.partition() in found:
                    continue
                error = message.error()
                if error is None or error.code() == KafkaError._PARTITION_EOF:
                    found[message.partition()] = message.offset()  # a record, or the end
                elif not error.retriable():
                    raise KafkaException(error)
        finally:
            self.consumer.unassign()
        for lag in lags:
            lag.next_record = found.get(lag.partition)

    def close(self) -> None:
        self.consumer.close()

    def __enter__(self) -> OffsetsProbe:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
