"""Running a Quix Application for a bounded time: stop it when it has caught up and been idle,
after a number of messages, or when the process that started it is gone."""

from __future__ import annotations

import os
import select
import sys
import threading
import time
from collections.abc import Callable

from confluent_kafka import KafkaException
from quixstreams import Application

from stack.realtime.topics import OffsetsProbe
from stack.settings import Settings


class StopWhen:
    """Counts the messages an Application processes, and stops it on its stop conditions.

    - `max_messages`: after that many distinct messages (a message processed again after a
      backpressure pause counts once);
    - `idle_timeout`: once no message came for that long, `is_idle()` holds (nothing held
      back by a sink) and the group's committed offsets reached the end of the topic, and of
      each of `internal_topics` (a repartition topic the app writes and reads itself; it
      is written in Kafka transactions, whose commit markers leave one offset that is never
      consumed, so a lag of 1 there is caught up: pending data would mean 2 or more);
    - `watch_stdin`: when standard input closes: how `stack consume` stops the window
      process it started, deliberately or by dying (a pipe, not a signal: a signal that
      lands while Quix is starting its loop is lost).

    Use `on_message` as the Application's `on_message_processed` callback, then `start()`.
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
    ) -> None:
        self.settings = settings
        self.group = group
        self.topic = topic
        self.idle_timeout = idle_timeout
        self.max_messages = max_messages
        self.is_idle = is_idle
        self.watch_stdin = watch_stdin
        self.internal_topics: list[str] = []
        self.messages = 0  # distinct messages of `topic`
        self.activity = 0  # messages of any topic (a repartition topic too): idle detection
        self.first_at: float | None = None  # when the first message was processed
        self.reason: str | None = None  # why the app was stopped (None: by a signal/error)
        self._highest: dict[tuple[str, int], int] = {}
        self._app: Application | None = None
        self._done = threading.Event()

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
        if self._app is not None:
            self._app.stop()

    def start(self, app: Application) -> None:
        self._app = app
        if self.idle_timeout is not None or self.watch_stdin:
            threading.Thread(target=self._watch, name="stop-when", daemon=True).start()

    def _stdin_is_closed(self) -> bool:
        # The raw descriptor, polled: a thread blocked in sys.stdin.read() would hold the
        # reader's lock, and Python aborts at exit when a daemon thread holds it.
        fd = sys.stdin.fileno()
        while select.select([fd], [], [], 0)[0]:
            if not os.read(fd, 4096):  # nothing is ever sent: only the close matters
                return True
        return False

    def close(self) -> None:
        self._done.set()

    def _watch(self) -> None:
        seen, quiet_since = -1, time.monotonic()
        probe = OffsetsProbe(self.settings, self.group) if self.idle_timeout is not None else None
        try:
            while not self._done.wait(0.25):
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
        lags = probe.lag(self.topic)
        if lags is not None and any(p.lag for p in lags):
            return False
        for topic in self.internal_topics:
            internal = probe.lag(topic)
            if internal is not None and any(p.lag > 1 for p in internal):
                return False
        return True
