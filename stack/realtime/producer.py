"""`stack produce`: synthetic transactions into Kafka, fast, idempotent, with a summary."""

from __future__ import annotations

import contextlib
import logging
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from confluent_kafka import KafkaError, Producer

from stack.errors import ServiceError, StackError
from stack.progress import OnEvent, Reporter
from stack.realtime.generator import TransactionGenerator
from stack.realtime.topics import ensure_topic
from stack.settings import Settings
from stack.summary import Summary

log = logging.getLogger(__name__)

DEFAULT_COUNT = 10_000

# Idempotent, fully acknowledged, and batched: big batches and a short linger are what make
# librdkafka fast; lz4 spends a little client CPU to save the broker (same machine) more.
PRODUCER_CONFIG = {
    "enable.idempotence": True,
    "acks": "all",
    "linger.ms": 20,
    "batch.size": 1_000_000,
    "compression.type": "lz4",
    "queue.buffering.max.messages": 1_000_000,
    "delivery.report.only.error": True,  # no Python callback per delivered message
}


def producer_config(settings: Settings) -> dict:
    return {
        "bootstrap.servers": settings.kafka_bootstrap_servers,
        "log_level": 3,
        **PRODUCER_CONFIG,
    }


@dataclass
class ProduceSummary(Summary):
    topic: str
    partitions: int
    events: int
    unique_transactions: int  # new transactions (version 1)
    updates: int  # later versions of earlier transactions
    malformed: int
    malformed_kinds: dict[str, int] = field(default_factory=dict)
    seed: int = 0  # the same seed and start give the same events
    start: datetime | None = None  # event time of the first event
    seconds: float = 0.0
    events_per_s: int = 0
    interrupted: bool = False  # Ctrl+C ended the run early


class _Deliveries:
    """Counts the messages Kafka did not take (only failures are reported, see config)."""

    def __init__(self) -> None:
        self.failed = 0
        self.first_error: KafkaError | None = None

    def __call__(self, error: KafkaError | None, _message: object) -> None:
        if error is not None:
            self.failed += 1
            self.first_error = self.first_error or error


def produce(
    settings: Settings,
    *,
    count: int | None = None,
    rate: float = 0,
    duration: float | None = None,
    seed: int | None = None,
    bad_ratio: float = 0.0,
    update_ratio: float = 0.10,
    start: datetime | None = None,
    partitions: int | None = None,
    on_event: OnEvent | None = None,
    should_stop: Callable[[], bool] | None = None,
    hold: Callable[[int], None] | None = None,
) -> ProduceSummary:
    """Produce synthetic transactions; return a summary.

    Stops after `count` events or `duration` seconds, whichever comes first (only `count` ->
    exactly that many; neither -> DEFAULT_COUNT). `rate` is events per second (0: as fast as
    possible). The same `seed` and `start` give the same events. A `progress` event follows
    each batch; `should_stop()` may end the run early. Ctrl+C ends it too, after the
    current batch: what was sent is flushed and summarised. `hold(sent)` is called after each
    batch and may block (`stack stream`: while the consumers are too far behind).
    """
    if count is None and duration is None:
        count = DEFAULT_COUNT
    if (count is not None and count < 0) or rate < 0 or (duration is not None and duration <= 0):
        raise StackError("--count must be >= 0, --rate >= 0 and --duration > 0")
    if not 0 <= bad_ratio <= 1 or not 0 <= update_ratio < 1 or bad_ratio + update_ratio > 1:
        raise StackError(
            "--bad-ratio must be in [0, 1], the update ratio in [0, 1), and their sum at most 1"
        )
    seed = random.SystemRandom().randrange(2**31) if seed is None else seed
    start = start or datetime.now(UTC)
    generator = TransactionGenerator(
        seed,
        update_ratio=update_ratio,
        bad_ratio=bad_ratio,
        start=start,
        step_ms=1000 / rate if rate else 1.0,
    )
    topic_partitions = ensure_topic(settings, partitions)
    deliveries = _Deliveries()
    producer = Producer({**producer_config(settings), "on_delivery": deliveries})
    topic = settings.transactions_topic
    report = Reporter("produce", on_event, log)
    report.start(topic, total=count)
    sent = 0
    interrupted = False
    began = time.perf_counter()
    with _sigint_as_flag() as sigint:
        for batch in _paced(generator, count, rate, duration, began):
            for message in batch:
                while True:
                    try:
                        producer.produce(topic, message.value, message.key)
                        break
                    except BufferError:  # the local queue is full: let librdkafka drain it
                        producer.poll(0.05)
            sent += len(batch)
            producer.poll(0)
            report.progress(sent, item=topic, total=count)
            if hold is not None:
                hold(sent)
            if sigint.is_set() or (should_stop is not None and should_stop()):
                interrupted = sigint.is_set()
                break
    unsent = producer.flush(60)
    seconds = time.perf_counter() - began
    if unsent or deliveries.failed:
        reason = deliveries.first_error.str() if deliveries.first_error else "flush timed out"
        raise ServiceError(
            f"{unsent + deliveries.failed} of {sent} events were not delivered "
            f"to {topic} at {settings.kafka_bootstrap_servers}: {reason}"
        )
    kinds = generator.made
    malformed = {k: v for k, v in sorted(kinds.items()) if k not in ("new", "update")}
    report.done(topic, done=sent)
    return ProduceSummary(
        topic=topic,
        partitions=topic_partitions,
        events=sent,
        unique_transactions=kinds["new"],
        updates=kinds["update"],
        malformed=sum(malformed.values()),
        malformed_kinds=malformed,
        seed=seed,
        start=start,
        seconds=round(seconds, 3),
        events_per_s=round(sent / seconds) if seconds > 0 else 0,
        interrupted=interrupted,
    )


@contextlib.contextmanager
def _sigint_as_flag() -> Iterator[threading.Event]:
    """Ctrl+C ends the run after the current batch (so the summary counts what was sent)."""
    flag = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield flag  # signals go to the main thread; the caller stops us with should_stop
        return
    previous = signal.signal(signal.SIGINT, lambda *_: flag.set())
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


def _paced(
    generator: TransactionGenerator,
    count: int | None,
    rate: float,
    duration: float | None,
    began: float,
) -> Iterator[list]:
    """Batches of messages, released on schedule when `rate` is set, until count/duration."""
    batch_size = 2000 if not rate else max(1, min(2000, int(rate / 20)))  # ~20 batches/s
    sent = 0
    while count is None or sent < count:
        elapsed = time.perf_counter() - began
        if duration is not None and elapsed >= duration:
            return
        size = batch_size if count is None else min(batch_size, count - sent)
        if rate:
            ahead = (sent + size) / rate - elapsed
            if ahead > 0:
                time.sleep(ahead if duration is None else min(ahead, duration - elapsed))
                if duration is not None and time.perf_counter() - began >= duration:
                    return
        yield generator.take(size)
        sent += size
