"""`stack consume`: the Quix Application that writes `transactions` into PostgreSQL.

The sink Application is stateless and lean: messages stay raw bytes (the dead-letter table
keeps the exact payload), `TransactionsSink` validates, upserts and dead-letters them, and
commits offsets only after PostgreSQL committed (see sink.py). Beside it, unless told not
to, `consume()` runs the window Application (windows.py) as a child process with its own
consumer group. Both ride out Kafka's outages (runner.keep_running).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg
from quixstreams import Application

from stack.db import connect
from stack.errors import EXIT_INTERNAL, ServiceError, StackError
from stack.progress import OnEvent, Reporter
from stack.realtime.events import INTERNAL_ERROR
from stack.realtime.runner import (
    POLL_TIMEOUT,
    KafkaOutage,
    QuietKafkaLogs,
    StopWhen,
    keep_running,
)
from stack.realtime.sink import TransactionsSink
from stack.realtime.topics import FAST_GROUP, QUIET, ensure_topic
from stack.realtime.windows import WINDOWS_COMMIT_INTERVAL, WindowsSummary
from stack.realtime.writer import WriteCounts
from stack.settings import Settings
from stack.summary import Summary

log = logging.getLogger(__name__)

WINDOW_TOTALS = "window totals"  # the item of the window process's progress events


@dataclass
class ConsumeSummary(Summary):
    topic: str
    partitions: int
    group: str
    messages: int
    valid: int
    dead_lettered: int
    reasons: dict[str, int] = field(default_factory=dict)  # dead-letter reason -> count
    sink_rows: int | None = None  # None when PostgreSQL is down at the end
    dlq_rows: int | None = None
    seconds: float = 0.0
    messages_per_s: int = 0  # from the first message to the last commit
    stopped_by: str = "signal"  # idle | max_messages | signal (windows_failed: raised)
    windows: WindowsSummary | None = None
    # Seconds spent waiting, not consuming: "start" (to the first message: starting, joining
    # the group), "idle" (after the last commit, to be sure that nothing more comes), and
    # "windows" (after the sink stopped, for the window totals to catch up).
    waited: dict[str, float] = field(default_factory=dict)

    derived = ("exit_code",)

    @property
    def exit_code(self) -> int:
        """0; or 4 when the stack failed on some message (a bug: dead-lettered as
        `internal_error`, the others were written as usual). Input rejects are not an error."""
        return EXIT_INTERNAL if self.reasons.get(INTERNAL_ERROR) else 0


def consume(
    settings: Settings,
    *,
    idle_timeout: float | None = None,
    max_messages: int | None = None,
    windows: bool = True,
    commit_interval: float = 1.0,
    ship_every: float = 0.005,
    input_done: threading.Event | None = None,
    on_event: OnEvent | None = None,
) -> ConsumeSummary:
    """Consume `transactions` into PostgreSQL until a stop condition; return a summary.

    Stops once caught up and idle for `idle_timeout` seconds, after `max_messages`
    messages, or on SIGTERM/SIGINT (the current checkpoint is finished and committed).
    Without any of them it runs until signalled. A `progress` event (messages committed so
    far) follows each commit; PostgreSQL retries are `notice` events (and log warnings);
    `input_done`, when given, must be set too before an idle stop, of the sink and of the
    window process (`stack stream`: set once the producer is done). A `progress` event of item
    WINDOW_TOTALS follows the window process's count of messages as it goes.
    Rows are committed as they come (the writer batches whatever comes while it writes);
    `ship_every` is the longest a message waits before the writer sees it.
    """
    if (idle_timeout is not None and idle_timeout < 0) or (
        max_messages is not None and max_messages < 1
    ):
        raise StackError("--idle-timeout must be >= 0 and --max-messages >= 1")
    called = time.monotonic()
    report = Reporter("consume", on_event, log)
    check_postgres_settings(settings)
    partitions = ensure_topic(settings)
    report.start(settings.transactions_topic)
    window_process = (
        WindowsProcess(
            settings,
            idle_timeout,
            max_messages,
            commit_interval,
            report,
            until_told=input_done is not None,
        )
        if windows
        else None
    )
    if window_process is not None and input_done is not None:
        threading.Thread(
            target=lambda: input_done.wait() and window_process.tell(),
            name="tell-windows",
            daemon=True,
        ).start()

    def committed(_counts: WriteCounts) -> None:
        report.progress(sink.committed.messages, item=settings.transactions_topic)

    sink = TransactionsSink(
        settings,
        settings.transactions_topic,
        ship_every=ship_every,
        on_committed=committed,
        on_notice=report.notice,
    )
    outage = KafkaOutage(report.notice)
    stopper = StopWhen(
        settings,
        group=settings.consumer_group,
        topic=settings.transactions_topic,
        idle_timeout=idle_timeout,
        max_messages=max_messages,
        is_idle=lambda: sink.idle and (input_done is None or input_done.is_set()),
        outage=outage,
    )
    if window_process is not None:  # it failed: stop too (its error is raised at the end)
        window_process.when_failed(lambda: stopper.stop("windows_failed"))

    def application() -> Application:
        app = Application(
            broker_address=settings.kafka_bootstrap_servers,
            consumer_group=settings.consumer_group,
            auto_offset_reset="earliest",
            commit_interval=commit_interval,
            consumer_poll_timeout=POLL_TIMEOUT,
            consumer_extra_config={**FAST_GROUP, **QUIET},
            producer_extra_config=QUIET,
            state_dir=settings.quix_state_dir,
            on_message_processed=stopper.on_message,
            loglevel=None,  # QuietKafkaLogs: one notice per outage, not raw lines
        )
        topic = app.topic(
            settings.transactions_topic, value_deserializer="bytes", key_deserializer="bytes"
        )
        app.dataframe(topic).sink(sink)
        return app

    began = time.monotonic()
    # Quix installs its own SIGINT/SIGTERM handlers (stop after the current checkpoint);
    # once it has stopped, a signal must work as usual again (while we wait for the windows).
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with QuietKafkaLogs(outage, lambda: stopper.activity).installed():
            keep_running(application, stopper, outage, reset=sink.reset)
    except BaseException:
        if window_process is not None:
            window_process.stop()
        raise
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        stopper.close()
        sink.close()
    ended = time.monotonic()
    seconds = ended - began
    # The rate from the first message to the last commit: joining the group, and waiting
    # to be sure that nothing more comes, are not consuming.
    busy = (sink.last_commit_at or ended) - (stopper.first_at or began)
    stopped_by = stopper.reason or "signal"
    window_summary = None
    if window_process is not None:
        try:
            window_summary = window_process.finish(stop=stopped_by == "signal")
            report.done(WINDOW_TOTALS, done=window_summary.messages)
        except BaseException:  # interrupted while waiting: do not leave it behind
            window_process.stop()
            raise
    waited = {
        "start": (stopper.first_at or ended) - called,
        "idle": ended - (sink.last_commit_at or stopper.first_at or ended),
        "windows": time.monotonic() - ended if window_process is not None else 0.0,
    }
    totals = sink.committed
    sink_rows = dlq_rows = None  # unknown when PostgreSQL is down at the end
    with contextlib.suppress(StackError, psycopg.Error), connect(settings) as conn:
        sink_rows, dlq_rows = conn.execute(
            "SELECT (SELECT count(*) FROM transactions_sink),"
            " (SELECT count(*) FROM transactions_dlq)"
        ).fetchone()
    report.done(settings.transactions_topic, done=totals.messages)
    return ConsumeSummary(
        topic=settings.transactions_topic,
        partitions=partitions,
        group=settings.consumer_group,
        messages=totals.messages,
        valid=totals.valid,
        dead_lettered=totals.rejected,
        reasons=dict(sorted(totals.reasons.items())),
        sink_rows=sink_rows,
        dlq_rows=dlq_rows,
        seconds=round(seconds, 3),
        messages_per_s=round(totals.messages / busy) if busy > 0 else 0,
        stopped_by=stopped_by,
        windows=window_summary,
        waited={what: round(seconds, 2) for what, seconds in waited.items()},
    )


def check_postgres_settings(settings: Settings) -> None:
    """Fail at once (ConfigError, exit 2) when PostgreSQL refuses the settings (no such
    database, a wrong password); PostgreSQL down is not an error: the sink waits for it."""
    with contextlib.suppress(ServiceError):
        connect(settings).close()


class WindowsProcess:
    """The window-totals Application (windows.py) as a child process.

    Its standard input is how it is stopped: closing it (or dying) says "finish now". Its
    standard output is a stream of JSON lines: `{"notice": ...}` (relayed as notices of this
    consume, from a reader thread) and, last, `{"summary": {...}}`.
    """

    def __init__(
        self,
        settings: Settings,
        idle_timeout: float | None,
        max_messages: int | None,
        commit_interval: float,
        report: Reporter,
        *,
        until_told: bool = False,
    ) -> None:
        args = [
            sys.executable,
            "-m",
            "stack.realtime.windows",
            "--commit-interval",
            str(min(commit_interval, WINDOWS_COMMIT_INTERVAL)),
        ]
        if idle_timeout is not None:
            args += ["--idle-timeout", str(idle_timeout)]
        if max_messages is not None:
            args += ["--max-messages", str(max_messages)]
        if until_told:
            args.append("--until-told")
        self.report = report
        self.summary: dict | None = None
        self.error: dict | None = None  # {"error": message, "exit_code": n}
        self._lock = threading.Lock()
        self._stopping = False  # we closed its input: its exit is expected
        self._failed = False  # it exited by itself before that
        self._on_failure: Callable[[], None] | None = None
        self.process = subprocess.Popen(
            args,
            env={**os.environ, **settings.as_env()},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.reader = threading.Thread(target=self._read, name="windows-output", daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            try:
                message = json.loads(line)
            except json.JSONDecodeError:
                continue
            if "progress" in message:
                self.report.progress(message["progress"], item=WINDOW_TOTALS)
            elif "notice" in message:
                self.report.notice(f"window totals: {message['notice']}")
            elif "summary" in message:
                self.summary = message["summary"]
            elif "error" in message:
                self.error = message
        code = self.process.wait()  # its output ended: it exits
        with self._lock:  # by itself, and not because it was done (idle, max_messages)?
            self._failed = not self._stopping and (code != 0 or self.summary is None)
            on_failure = self._on_failure if self._failed else None
        if on_failure is not None:
            on_failure()

    def when_failed(self, on_failure: Callable[[], None]) -> None:
        """Call `on_failure()` (from a reader thread) once it fails by itself, before `stop()`
        or `finish()`: at once if it already has."""
        with self._lock:
            self._on_failure = on_failure
            failed = self._failed
        if failed:
            on_failure()

    def tell(self) -> None:
        """Say that nothing more is coming to the topic: with `until_told`, it may stop once
        caught up and idle from now on."""
        with self._lock, contextlib.suppress(OSError, ValueError):  # gone, or stopped
            self.process.stdin.write("input done\n")
            self.process.stdin.flush()

    def stop(self, timeout: float = 60) -> None:
        with self._lock:
            self._stopping = True
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.reader.join(timeout=5)

    def finish(self, *, stop: bool) -> WindowsSummary:
        """Wait for it (stopping it first when we were signalled); its summary."""
        if not stop and self.process.poll() is None:
            self.report.notice("waiting for the window totals to catch up...")
        if not stop:
            with self._lock:
                self._stopping = True  # it stops by itself now (the sink's group is done)
            self.reader.join()  # its output ends when it exits
        self.stop()
        if self.error is not None:
            raise StackError(
                f"window totals: {self.error['error']}", exit_code=self.error["exit_code"]
            )
        if self.process.returncode != 0 or self.summary is None:
            raise StackError(
                f"the window-totals process failed (exit code {self.process.returncode}); "
                "the sink's rows are committed, the window totals may lag: run "
                "`stack consume` again"
            )
        return WindowsSummary(**self.summary)
