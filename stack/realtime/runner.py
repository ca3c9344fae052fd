"""Running a Quix Application for a bounded time, through Kafka's own outages.

- `StopWhen` stops it when it has caught up and been idle, after a number of messages, or
  when the process that started it is gone.
- `keep_running` runs it and, when Kafka fails under it (a broker restart, a coordinator that
  moved, a group that lost its members), throws it away, waits and runs a new one, as the sink
  does for PostgreSQL: offsets are committed only with their results, so the new one starts
  where the last commit left off and nothing is lost or counted twice.
- `KafkaOutage` says so in one-line notices, and `QuietKafkaLogs` turns Quix's and
  librdkafka's own log lines (hundreds per outage) into those notices.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import select
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator

from confluent_kafka import KafkaError, KafkaException
from quixstreams import Application
from quixstreams.checkpointing.exceptions import CheckpointProducerTimeout
from quixstreams.kafka.exceptions import BaseKafkaException, KafkaBrokerUnavailableError
from quixstreams.models.topics.exceptions import CreateTopicFailure, CreateTopicTimeout

from stack.realtime.topics import KafkaUnavailable, OffsetsProbe
from stack.realtime.writer import backoff
from stack.settings import Settings

log = logging.getLogger(__name__)

# Quix's loop sees a stop between two polls, and a poll with nothing to return waits
# `consumer_poll_timeout` first (1 s by default): a stop that comes once the topic is drained
# would wait that long. Both Applications poll with this (an idle loop wakes ten times a second).
POLL_TIMEOUT = 0.1

# Kafka errors that no wait cures: the settings or the rights are wrong.
_NOT_OUTAGES = {
    KafkaError._AUTHENTICATION,
    KafkaError._INVALID_ARG,
    KafkaError._UNKNOWN_TOPIC,
    KafkaError.INVALID_CONFIG,
    KafkaError.SASL_AUTHENTICATION_FAILED,
    KafkaError.TOPIC_AUTHORIZATION_FAILED,
    KafkaError.GROUP_AUTHORIZATION_FAILED,
    KafkaError.CLUSTER_AUTHORIZATION_FAILED,
    KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
}


def _causes(error: BaseException) -> Iterator[BaseException]:
    seen = 0
    while error is not None and seen < 10:
        yield error
        error = error.__cause__ or error.__context__
        seen += 1


def kafka_outage(error: BaseException) -> str | None:
    """A one-line reason when `error` (or what caused it) is Kafka being down, restarting, or
    moving a coordinator: worth a new client and a wait. None for anything else."""
    for cause in _causes(error):
        kafka_error = None
        if isinstance(cause, KafkaException) and cause.args:
            kafka_error = cause.args[0]
        elif isinstance(cause, BaseKafkaException):
            kafka_error = cause.error
        elif isinstance(cause, KafkaUnavailable | KafkaBrokerUnavailableError):
            return str(cause).split(";")[0]
        elif isinstance(cause, CheckpointProducerTimeout):
            return "a commit timed out"
        elif isinstance(cause, CreateTopicTimeout):
            return "topics not created: timed out"
        elif isinstance(cause, CreateTopicFailure):
            # Quix keeps only librdkafka's text: "Local: ..." errors are the client's own
            # (transport, timeouts); anything else is the broker saying no.
            local = _LOCAL_ERROR.search(str(cause))
            return f"topics not created: {local.group(0)}" if local else None
        if isinstance(kafka_error, KafkaError):
            if kafka_error.code() in _NOT_OUTAGES:
                return None
            return condense(kafka_error.str())
        if isinstance(kafka_error, str):
            return condense(kafka_error)
    return None


_LOCAL_ERROR = re.compile(r"Local: [^'\"}]+")
_QUIX_ERROR = re.compile(r'^<\w+ code="?-?\d+"? description="(.*)">$')
_NOISE = (
    re.compile(r"^Kafka (consumer|producer) error: "),
    re.compile(r"^\S+:\d+/(\d+|bootstrap): "),  # which broker connection said it
    re.compile(r"\s*\((after \d+ms in state|\d+ identical error).*\)$"),
    re.compile(r'\s*code="?-?\d+"?'),
)


def condense(text: str) -> str:
    """A client's error line without what changes from one repeat to the next."""
    text = (text.strip().splitlines() or [""])[0]
    if match := _QUIX_ERROR.match(text):
        text = match.group(1)
    for pattern in _NOISE:
        text = pattern.sub("", text)
    return text.strip() or "no reason given"


class KafkaOutage:
    """What the consumer says while Kafka is away: one notice when it goes, one per restart
    whose reason is new, one when it is back."""

    def __init__(self, notice: Callable[[str], None]) -> None:
        self.notice = notice
        self.since: float | None = None  # time.monotonic() when it went away
        self.restarts = 0  # of the Application, during this outage
        self.activity_at: int | None = None  # the consumer's activity counter then
        self._said: str | None = None
        self._lock = threading.Lock()

    @property
    def active(self) -> bool:
        return self.since is not None

    def trouble(self, reason: str, activity: int = 0) -> None:
        """Kafka's client reports a failure (the Application may ride it out by itself)."""
        with self._lock:
            if self.since is None:
                self.since, self.activity_at = time.monotonic(), activity
            if self._said is None:
                self._said = reason
                self.notice(f"Kafka unavailable ({reason}); waiting for it, nothing is lost")

    def restart(self, reason: str, delay: float, activity: int = 0) -> None:
        """The Application failed and is replaced after `delay` seconds."""
        with self._lock:
            if self.since is None:
                self.since = time.monotonic()
            self.activity_at = activity
            self.restarts += 1
            if reason != self._said:
                self._said = reason
                self.notice(
                    f"Kafka unavailable ({reason}); nothing after the last commit was "
                    f"committed: reconnecting in {delay:.1f} s, and the messages since come again"
                )

    def back(self) -> None:
        """Messages flow again."""
        with self._lock:
            if self.since is None:
                return
            seconds = time.monotonic() - self.since
            restarts = f", {self.restarts} reconnect(s)" if self.restarts else ""
            self.notice(f"Kafka is back after {seconds:.0f} s{restarts}: resumed")
            self.since, self.activity_at, self.restarts, self._said = None, None, 0, None

    def check(self, activity: int) -> None:
        """`back()` once the consumer has processed something since the trouble began."""
        if self.since is not None and self.activity_at is not None and activity != self.activity_at:
            self.back()


class QuietKafkaLogs(logging.Handler):
    """Quix's and librdkafka's log records (logger "quixstreams") in one notice per outage,
    instead of hundreds of raw lines on stderr; everything else goes to the debug log."""

    def __init__(self, outage: KafkaOutage, activity: Callable[[], int]) -> None:
        super().__init__(logging.WARNING)
        self.outage = outage
        self.activity = activity

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.name.startswith("quixstreams.kafka") and record.levelno >= logging.ERROR:
            self.outage.trouble(condense(message), self.activity())
        else:
            log.debug("%s: %s", record.name, message)

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        quix = logging.getLogger("quixstreams")
        propagate = quix.propagate
        quix.addHandler(self)
        quix.propagate = False  # not to the root logger (and so not to stderr)
        try:
            yield
        finally:
            quix.removeHandler(self)
            quix.propagate = propagate


def keep_running(
    build: Callable[[], Application],
    stopper: StopWhen,
    outage: KafkaOutage,
    *,
    reset: Callable[[], None] = lambda: None,
    heal: Callable[[BaseException], bool] = lambda _error: False,
) -> None:
    """Run the Application that `build()` makes until it stops by itself (a stop condition, a
    signal). When Kafka fails under it, `reset()` (drop what the old one held uncommitted),
    wait with a growing backoff, then build and run a new one. When `heal(error)` says it
    repaired what an error was about (the window state), run a new one at once. Any other
    error is raised."""
    while True:
        try:
            app = build()
            stopper.start(app)
            app.run()
            return
        except Exception as error:
            reason = kafka_outage(error)
            if reason is None:
                if not heal(error):
                    raise
                reset()
                continue
            log.debug("the Application failed on a Kafka error", exc_info=error)
        reset()
        if stopper.reason is not None:  # it was stopping anyway: what it did not commit
            return  # comes again next time
        delay = backoff(outage.restarts + 1)
        outage.restart(reason, delay, stopper.activity)
        if stopper.wait(delay):  # told to stop meanwhile: nothing is running, so we are done
            return


class StopWhen:
    """Counts the messages an Application processes, and stops it on its stop conditions.

    - `max_messages`: after that many distinct messages (a message processed again after a
      backpressure pause or a reconnect counts once);
    - `idle_timeout`: once this member has been given its partitions (none, in a group with
      more members than partitions, is an answer too), no message came for that long,
      `is_idle()` holds (nothing held back by a sink) and the group has read everything in
      the topic, and in each of
      `internal_topics` (a repartition topic the app writes and reads itself). "Everything"
      is judged by position, not by offsets: Kafka transactions (exactly-once apps, our own
      repartition topic) leave commit markers that take an offset and are never delivered;
    - `watch_stdin`: when standard input closes: how `stack consume` stops the window
      process it started, deliberately or by dying (a pipe, not a signal: a signal that
      lands while Quix is starting its loop is lost). A line there instead sets `told`:
      nothing more is coming to the topic (`stack stream`: the producer is done).

    Use `on_message` as the Application's `on_message_processed` callback, then `start(app)`
    (again for each new Application of the same run).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        group: str,
        topic: str,
        idle_timeout: float | None = None,
        max_messages: int | None = None,
        is_idle: Callable[[], bool] = lambda: True,
        watch_stdin: bool = False,
        outage: KafkaOutage | None = None,
    ) -> None:
        self.settings = settings
        self.group = group
        self.topic = topic
        self.idle_timeout = idle_timeout
        self.max_messages = max_messages
        self.is_idle = is_idle
        self.watch_stdin = watch_stdin
        self.outage = outage
        self.internal_topics: list[str] = []
        self.messages = 0  # distinct messages of `topic`
        self.activity = 0  # messages of any topic (a repartition topic too): idle detection
        self.first_at: float | None = None  # when the first message was processed
        self.reason: str | None = None  # why the app was stopped (None: by a signal/error)
        self.told = False  # a line came on standard input (watch_stdin)
        self._highest: dict[tuple[str, int], int] = {}
        self._app: Application | None = None
        self._stopping = threading.Event()  # a stop was asked for
        self._done = threading.Event()
        self._assigned = threading.Event()  # the current Application has its partitions
        self._watcher: threading.Thread | None = None

    def on_message(self, topic: str, partition: int, offset: int) -> None:
        # Runs once per message: keep it cheap.
        self.activity += 1
        if self.first_at is None:
            self.first_at = time.monotonic()
        key = (topic, partition)
        if offset > self._highest.get(key, -1):
            self._highest[key] = offset
            if topic == self.topic:
                self.messages += 1
                if self.messages == self.max_messages:
                    self.stop("max_messages")

    def stop(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
        self._stopping.set()
        if self._app is not None:
            self._app.stop()

    def start(self, app: Application) -> None:
        self._app = app
        self._assigned.clear()
        # Until the group has given this member its share, the group's offsets say nothing
        # about it: the other members may be at the end while this one still joins (seen: a
        # member stopped "idle" with 0 messages before its first assignment). Quix has no
        # public assignment hook; `_on_assign` is what it subscribes with at `run()`.
        on_assign = app._on_assign

        def assigned(consumer, partitions) -> None:
            on_assign(consumer, partitions)
            self._assigned.set()

        app._on_assign = assigned
        if self.reason is not None:
            app.stop()
        if self._watcher is None:
            self._watcher = threading.Thread(target=self._watch, name="stop-when", daemon=True)
            self._watcher.start()

    def wait(self, seconds: float) -> bool:
        """Sleep `seconds` between two Applications, unless a stop comes (a signal, the
        parent gone, ...): True then. Signals are ours while no Application runs."""
        if threading.current_thread() is not threading.main_thread():
            return self._stopping.wait(seconds)
        handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        for sig, handler in handlers.items():
            if handler is not signal.SIG_IGN:
                signal.signal(sig, lambda *_: self.stop("signal"))
        try:
            return self._stopping.wait(seconds)
        finally:
            for sig, handler in handlers.items():
                signal.signal(sig, handler)

    def _stdin_is_closed(self) -> bool:
        # The raw descriptor, polled: a thread blocked in sys.stdin.read() would hold the
        # reader's lock, and Python aborts at exit when a daemon thread holds it.
        fd = sys.stdin.fileno()
        while select.select([fd], [], [], 0)[0]:
            if not os.read(fd, 4096):
                return True
            self.told = True
        return False

    def close(self) -> None:
        self._done.set()

    def _watch(self) -> None:
        seen, quiet_since = -1, time.monotonic()
        probe = OffsetsProbe(self.settings, self.group) if self.idle_timeout is not None else None
        try:
            while not self._done.wait(0.25):
                if self.outage is not None:
                    self.outage.check(self.activity)
                if self.reason is not None:
                    # Again and again until the app has stopped: a stop that comes while Quix
                    # is still starting its loop is lost (an idle consume of an empty topic
                    # decides within the first quarter second).
                    self.stop(self.reason)
                    continue
                if self.watch_stdin and self._stdin_is_closed():
                    self.stop("parent")
                    continue
                if probe is None:
                    continue
                if not self._assigned.is_set():  # not in the group yet: quiet means nothing
                    quiet_since = time.monotonic()
                    continue
                if self.activity != seen:
                    seen, quiet_since = self.activity, time.monotonic()
                    continue
                if time.monotonic() - quiet_since < self.idle_timeout or not self.is_idle():
                    continue
                try:
                    caught_up = self._caught_up(probe)
                except KafkaException:  # Kafka busy or restarting: not caught up, then
                    caught_up = False
                if caught_up:
                    self.stop("idle")
                    continue
                quiet_since = time.monotonic() - self.idle_timeout + 0.5  # check again soon
        finally:
            if probe is not None:
                probe.close()

    def _caught_up(self, probe: OffsetsProbe) -> bool:
        for topic in (self.topic, *self.internal_topics):
            lags = probe.lag(topic)
            if lags is None or any(p.lag for p in lags):  # None: not there (yet, or again)
                return False
        return True
