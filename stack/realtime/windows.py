"""Per-merchant one-minute tumbling-window totals: a stateful Quix Application of its own.

Why its own Application (and consumer group, and process): Quix's stateful processing
(RocksDB state, changelog topics) runs several times slower per message than the stateless
sink path; inside the sink's Application it would cap the sink. Beside it, it reads the same
topic at its own pace, and `stack consume` starts it as a child process.

What it counts: each transaction once (at the first valid version it sees: version 1, or a
later one when version 1 was dead-lettered or never sent), in the minute of its
`created_at`, per merchant; so at any time where it has caught up,
`merchant_minute_totals` equals
    SELECT merchant, date_trunc('minute', created_at), count(*), sum(amount)
    FROM transactions_sink GROUP BY 1, 2
(every version carries the merchant, created_at and amount of the first: the sink
dead-letters a later version that changes them, so its newest versions agree).

How: validate (as the sink does, against the same Kafka timestamps; invalid events are the
sink's to dead-letter) -> drop a transaction seen before (a later version, or a replay; state
keyed by transaction_id) ->
re-key by merchant (`group_by`, a repartition topic) -> event time = created_at -> tumbling
window of 60 s with count and sum (in cents: exact) -> `.current()`, so every update is
upserted and a minute's row is right without waiting for the window to close.

Exactly-once processing (Kafka transactions) keeps the state, the repartition topic and the
offsets consistent through crashes; the sink writes absolute totals with an upsert, so
writing one again after a crash is harmless. Windows accept events up to `grace()` late:
5 minutes (out of order across partitions) beyond the clock skew an event may have
(EVENT_CLOCK_SKEW_SECONDS; further ahead, it is dead-lettered), so a valid event dated ahead
never makes the next ones late. Later ones are counted as `late_events` (and said in a
notice), not added.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
from quixstreams import Application
from quixstreams.dataframe.windows import Count, Sum
from quixstreams.sinks import BaseSink, SinkBackpressureError

from stack.db import connect
from stack.errors import ServiceError, StackError
from stack.realtime.events import Rejected, clip, validate
from stack.realtime.runner import (
    POLL_TIMEOUT,
    KafkaOutage,
    QuietKafkaLogs,
    StopWhen,
    keep_running,
)
from stack.realtime.schema import ensure_schema
from stack.realtime.topics import FAST_GROUP, QUIET, ensure_topic, topic_manager, windows_group
from stack.realtime.window_state import WindowState
from stack.realtime.writer import backoff, is_connection_problem
from stack.settings import Settings
from stack.summary import Summary

log = logging.getLogger("stack.realtime.windows")  # not __main__: it runs as one

WINDOW = timedelta(minutes=1)
# A broker answers a connection's requests in order, and a fetch with nothing to return waits
# up to fetch.wait.max.ms (500 by default) first: each of the offset queries Quix makes when it
# assigns the stateful partitions (two per partition, six partitions) waited behind one (seen:
# 3 s of a restart's 5.6 s to its first message). 50 ms costs a few idle fetches a second.
SHORT_FETCH_WAIT = {"fetch.wait.max.ms": 50}
WINDOWS_NICENESS = 10
# A re-keyed event is read back only once the transaction that wrote it has committed, and
# its total is written at the checkpoint after that: the totals trail by two checkpoints.
# `stack consume` checkpoints the window process at most this far apart (whatever its own
# --commit-interval). Measured on 20,000 events waiting: 5.0-5.5 s to count them, against
# 4.7-6.2 s at 1 s (more, smaller transactions); the totals trail by ~0.5 s instead of ~2.
WINDOWS_COMMIT_INTERVAL = 0.25
PROGRESS_EVERY = 500  # messages between two progress lines to the parent
OUT_OF_ORDER = timedelta(minutes=5)  # how far behind its merchant's newest an event may come
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MILLISECOND = timedelta(milliseconds=1)

UPSERT_TOTALS = """
INSERT INTO merchant_minute_totals (merchant, window_start, window_end, transactions, amount_sum)
VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (merchant, window_start) DO UPDATE SET
    window_end = excluded.window_end, transactions = excluded.transactions,
    amount_sum = excluded.amount_sum, updated_at = clock_timestamp()
WHERE (merchant_minute_totals.transactions, merchant_minute_totals.amount_sum)
    IS DISTINCT FROM (excluded.transactions, excluded.amount_sum)
"""


@dataclass
class WindowsSummary(Summary):
    """What a run of the window Application did."""

    messages: int
    window_updates: int
    late_events: int
    seconds: float
    stopped_by: str  # idle | max_messages | parent | signal
    # Seconds not spent counting: "start" (to the first message: starting, creating its
    # topics, joining the group) and "idle" (after its last write, to be sure of the end).
    waited: dict[str, float] = field(default_factory=dict)


def to_cents(amount: str) -> int:
    """An amount as validated ('12', '12.5', '12.05') in cents, exactly."""
    whole, _, fraction = amount.partition(".")
    return int(whole) * 100 + int(fraction.ljust(2, "0"))


def grace(settings: Settings) -> timedelta:
    """How late an event may come for its window: the clock skew an event may have, plus
    OUT_OF_ORDER."""
    return timedelta(seconds=settings.event_clock_skew_seconds) + OUT_OF_ORDER


def window_input(clock_skew_s: float):
    """value, key, timestamp, headers -> what the window needs from a valid event (any
    version: the first one seen counts); None for an invalid one."""

    def extract(value: bytes, key: bytes, timestamp: int, _headers: object) -> dict | None:
        event = validate(key, value, timestamp, clock_skew_s=clock_skew_s)
        if type(event) is Rejected:
            return None
        return {
            "merchant": event["merchant"],
            "cents": to_cents(event["amount"]),
            "created_ms": (event["created_at"] - EPOCH) // MILLISECOND,
        }

    return extract


def first_time(_value: dict, state) -> bool:
    """True the first time a transaction id (the message key) comes; replays are dropped."""
    if state.get("seen"):
        return False
    state.set("seen", 1)
    return True


class WindowTotalsSink(BaseSink):
    """Upserts the newest totals of each (merchant, minute) at each checkpoint."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(
            on_client_connect_success=lambda: None, on_client_connect_failure=lambda error: None
        )
        self.settings = settings
        self.conn: psycopg.Connection | None = None
        self.pending: dict[tuple[str, int], tuple[int, int, int]] = {}
        self.failures = 0
        self.rows_written = 0
        self.last_write_at: float | None = None

    def setup(self) -> None:
        self._connect()

    def _connect(self) -> psycopg.Connection:
        if self.conn is None or self.conn.closed:
            self.conn = connect(self.settings)
            ensure_schema(self.conn)
            self.conn.commit()
        return self.conn

    def add(self, value, key, timestamp, headers, topic, partition, offset) -> None:
        # Totals only grow within a partition's order: the last one seen is the newest.
        self.pending[(key, value["start"])] = (
            value["end"],
            value["transactions"],
            value["amount_cents"],
        )

    def flush(self) -> None:
        if not self.pending:
            return
        rows = [
            (merchant, _time(start), _time(end), transactions, Decimal(cents).scaleb(-2))
            for (merchant, start), (end, transactions, cents) in self.pending.items()
        ]
        try:
            conn = self._connect()
            with conn.cursor() as cursor:
                cursor.executemany(UPSERT_TOTALS, rows)
            conn.commit()
        except (psycopg.Error, ServiceError) as error:
            if self.conn is not None:
                self.conn.close()
                self.conn = None
            if not is_connection_problem(error):
                raise
            self.failures += 1
            delay = backoff(self.failures)
            log.warning("PostgreSQL unavailable; nothing committed, retrying in %.1f s", delay)
            raise SinkBackpressureError(retry_after=delay) from None
        finally:
            self.pending = {}
        self.failures = 0
        self.rows_written += len(rows)
        self.last_write_at = time.monotonic()

    def on_paused(self) -> None:
        self.pending = {}

    def reset(self) -> None:
        """The Application is being replaced: what it did not commit comes again."""
        self.pending = {}

    @property
    def idle(self) -> bool:
        return not self.pending and self.failures == 0

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


def _time(ms: int) -> datetime:
    return EPOCH + ms * MILLISECOND


def run_windows(
    settings: Settings,
    *,
    idle_timeout: float | None = None,
    max_messages: int | None = None,
    commit_interval: float = 1.0,
    watch_stdin: bool = False,
    until_told: bool = False,
    on_progress: Callable[[int], None] | None = None,
) -> WindowsSummary:
    """Run the window Application until a stop condition; return a summary.

    `until_told`: an idle stop waits, too, for a line on standard input (watch_stdin: the
    parent says that nothing more is coming). `on_progress(messages)` says, every
    PROGRESS_EVERY messages processed, how many of the topic's are through."""
    late = {"events": 0}

    def on_late(value, key, _timestamp, late_by_ms, *_args: object) -> bool:
        late["events"] += 1
        if late["events"] == 1:  # the first one says why; the summary counts them all
            log.warning(
                "an event of %s came %.0f s after its window (created_at %s minutes older than "
                "a newer event of the merchant): not added to the window totals (the sink has "
                "it); `late_events` in the summary counts such events",
                clip(key),
                late_by_ms / 1000,
                f"more than {grace(settings) / timedelta(minutes=1):g}",
            )
        return False  # not Quix's own log line

    group = windows_group(settings)
    sink = WindowTotalsSink(settings)
    outage = KafkaOutage(log.warning)
    state = WindowState(settings, group, log.warning)
    stopper = StopWhen(
        settings,
        group=group,
        topic=settings.transactions_topic,
        idle_timeout=idle_timeout,
        max_messages=max_messages,
        is_idle=lambda: sink.idle and (stopper.told or not until_told),
        watch_stdin=watch_stdin,
        outage=outage,
    )

    # Progress: the topic's messages that are through. One dropped at the first stage (invalid,
    # seen before) is through there; one re-keyed is through once its repartitioned copy is.
    rekeyed = {"messages": 0}

    def first_time_counted(value: dict, state) -> bool:
        if first_time(value, state):
            rekeyed["messages"] += 1
            return True
        return False

    def on_message(topic: str, partition: int, offset: int) -> None:
        stopper.on_message(topic, partition, offset)
        if on_progress is not None and stopper.activity % PROGRESS_EVERY == 0:
            on_progress(stopper.activity - rekeyed["messages"])

    def application() -> Application:
        ensure_topic(settings)
        state.prepare()
        app = Application(
            broker_address=settings.kafka_bootstrap_servers,
            consumer_group=group,
            auto_offset_reset="earliest",
            commit_interval=commit_interval,
            consumer_poll_timeout=POLL_TIMEOUT,
            consumer_extra_config={**FAST_GROUP, **QUIET, **SHORT_FETCH_WAIT},
            producer_extra_config=QUIET,
            processing_guarantee="exactly-once",
            topic_manager=topic_manager(settings, group),
            state_dir=settings.quix_state_dir,
            on_message_processed=on_message,
            loglevel=None,  # QuietKafkaLogs
        )
        topic = app.topic(
            settings.transactions_topic, value_deserializer="bytes", key_deserializer="bytes"
        )
        sdf = app.dataframe(topic)
        sdf = sdf.apply(window_input(settings.event_clock_skew_seconds), metadata=True)
        sdf = sdf.filter(lambda value: value is not None)
        sdf = sdf.filter(first_time_counted, stateful=True)
        sdf = sdf.group_by("merchant")
        stopper.internal_topics = [t.name for t in sdf.topics if t.name != topic.name]
        sdf = sdf.set_timestamp(lambda value, _key, _ts, _headers: value["created_ms"])
        sdf = (
            sdf.tumbling_window(WINDOW, grace_ms=grace(settings), on_late=on_late)
            .agg(transactions=Count(), amount_cents=Sum("cents"))
            .current()
        )
        sdf.sink(sink)
        return app

    began = time.monotonic()
    try:
        with QuietKafkaLogs(outage, lambda: stopper.activity).installed():
            keep_running(application, stopper, outage, reset=sink.reset, heal=state.rebuild)
    finally:
        stopper.close()
        sink.close()
    ended = time.monotonic()
    return WindowsSummary(
        messages=stopper.messages,
        window_updates=sink.rows_written,
        late_events=late["events"],
        seconds=round(ended - began, 3),
        stopped_by=stopper.reason or "signal",
        waited={
            "start": round((stopper.first_at or ended) - began, 2),
            "idle": round(ended - (sink.last_write_at or stopper.first_at or ended), 2),
        },
    )


class _Relay(logging.Handler):
    """The child's warnings as `{"notice": ...}` lines on stdout, for the parent to relay."""

    def emit(self, record: logging.LogRecord) -> None:
        _send({"notice": record.getMessage()})


def _send(message: dict) -> None:
    try:
        print(json.dumps(message), flush=True)
    except BrokenPipeError:  # the parent is gone: say nothing more, and nothing at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def main() -> None:
    """Entry of the child process `stack consume` starts: settings come from the environment;
    it stops when its standard input closes (so run it with a pipe there, never /dev/null),
    and writes JSON lines on stdout: notices, then its summary (consumer.WindowsProcess)."""
    parser = argparse.ArgumentParser(prog="python -m stack.realtime.windows")
    parser.add_argument("--idle-timeout", type=float)
    parser.add_argument("--max-messages", type=int)
    parser.add_argument("--commit-interval", type=float, default=1.0)
    parser.add_argument("--until-told", action="store_true")
    args = parser.parse_args()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # until Quix's handler: the parent decides
    # Totals can trail; the sink's rows should not: where cores are short (Quix's stateful
    # path costs several times the sink's per message), the sink goes first. Not in a stream
    # (`--until-told`): there the producer waits for the slowest consumer, this one.
    if not args.until_told:
        os.nice(WINDOWS_NICENESS)
    from stack.settings import load_settings

    relay = _Relay(logging.WARNING)
    root = logging.getLogger("stack")
    root.addHandler(relay)
    root.propagate = False  # the parent shows what it relays; nothing raw on stderr
    settings = None
    try:
        settings = load_settings()  # the parent's, through the environment
        summary = run_windows(
            settings,
            idle_timeout=args.idle_timeout,
            max_messages=args.max_messages,
            commit_interval=args.commit_interval,
            watch_stdin=True,
            until_told=args.until_told,
            on_progress=lambda messages: _send({"progress": messages}),
        )
    except StackError as error:  # a user error: the parent says it, with its exit code
        _send({"error": str(error), "exit_code": error.exit_code})
        sys.exit(error.exit_code)
    except Exception as error:  # a bug: its traceback in a file, one line for the parent (exit 1)
        said = f"{type(error).__name__}: {error}"
        if settings is not None:
            path = crash_log(settings)
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a") as file:
                file.write(f"{datetime.now(UTC).isoformat()} {traceback.format_exc()}\n")
            said += f" (traceback in {path})"
        _send({"error": said, "exit_code": StackError.exit_code})
        sys.exit(StackError.exit_code)
    _send({"summary": summary.to_dict()})


def crash_log(settings: Settings) -> Path:
    """Where the window process keeps the tracebacks of its failures."""
    return settings.stack_home / "logs" / "window-totals.log"


if __name__ == "__main__":
    main()
