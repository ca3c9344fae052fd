"""`stack consume`: the Quix Application that writes `transactions` into PostgreSQL.

The sink Application is stateless and lean: messages stay raw bytes (the dead-letter table
keeps the exact payload), `TransactionsSink` validates, upserts and dead-letters them, and
commits offsets only after PostgreSQL committed (see sink.py). Beside it, unless told not
to, `consume()` runs the window Application (windows.py) as a child process with its own
consumer group.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import psycopg
from quixstreams import Application

from stack.db import connect
from stack.errors import StackError
from stack.realtime.runner import StopWhen
from stack.realtime.sink import TransactionsSink
from stack.realtime.topics import FAST_GROUP, ensure_topic
from stack.realtime.writer import WriteCounts
from stack.settings import Settings


def consume(
    settings: Settings,
    *,
    idle_timeout: float | None = None,
    max_messages: int | None = None,
    windows: bool = True,
    commit_interval: float = 1.0,
    chunk_size: int = 10_000,
    ready_to_stop: Callable[[], bool] = lambda: True,
    on_committed: Callable[[WriteCounts, WriteCounts], None] | None = None,
    on_notice: Callable[[str], None] | None = None,
) -> dict:
    """Consume `transactions` into PostgreSQL until a stop condition; return a summary.

    Stops once caught up and idle for `idle_timeout` seconds, after `max_messages`
    messages, or on SIGTERM/SIGINT (the current checkpoint is finished and committed).
    Without any of them it runs until signalled. `on_committed(checkpoint, totals)` follows
    each commit; `on_notice(text)` gets messages for people (PostgreSQL retries);
    `ready_to_stop()` must hold too before an idle stop (`stack stream`: the producer is done).
    """
    if (idle_timeout is not None and idle_timeout < 0) or (
        max_messages is not None and max_messages < 1
    ):
        raise StackError("--idle-timeout must be >= 0 and --max-messages >= 1")
    partitions = ensure_topic(settings)
    window_process = (
        _start_windows(settings, idle_timeout, max_messages, commit_interval) if windows else None
    )

    def committed(counts: WriteCounts) -> None:
        if on_committed is not None:
            on_committed(counts, sink.committed)

    sink = TransactionsSink(
        settings,
        settings.transactions_topic,
        chunk_size=chunk_size,
        on_committed=committed,
        on_retry=on_notice,
    )
    stopper = StopWhen(
        settings,
        group=settings.consumer_group,
        topic=settings.transactions_topic,
        idle_timeout=idle_timeout,
        max_messages=max_messages,
        is_idle=lambda: sink.idle and ready_to_stop(),
    )
    app = Application(
        broker_address=settings.kafka_bootstrap_servers,
        consumer_group=settings.consumer_group,
        auto_offset_reset="earliest",
        commit_interval=commit_interval,
        consumer_extra_config=FAST_GROUP,
        state_dir=settings.stack_home / "quix-state",
        on_message_processed=stopper.on_message,
        loglevel="ERROR",  # retries and failures are reported by the sink, once each
    )
    topic = app.topic(
        settings.transactions_topic, value_deserializer="bytes", key_deserializer="bytes"
    )
    app.dataframe(topic).sink(sink)
    stopper.start(app)
    began = time.monotonic()
    # Quix installs its own SIGINT/SIGTERM handlers (stop after the current checkpoint);
    # once it has stopped, a signal must work as usual again (while we wait for the windows).
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        app.run()
    except BaseException:
        if window_process is not None:
            _stop_windows(window_process)
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
            window_summary = _finish_windows(
                window_process, stop=stopped_by == "signal", on_notice=on_notice
            )
        except BaseException:  # interrupted while waiting: do not leave it behind
            _stop_windows(window_process)
            raise
    totals = sink.committed
    sink_rows = dlq_rows = None  # unknown when PostgreSQL is down at the end
    with contextlib.suppress(StackError, psycopg.Error), connect(settings) as conn:
        sink_rows, dlq_rows = conn.execute(
            "SELECT (SELECT count(*) FROM transactions_sink),"
            " (SELECT count(*) FROM transactions_dlq)"
        ).fetchone()
    return {
        "topic": settings.transactions_topic,
        "partitions": partitions,
        "group": settings.consumer_group,
        "messages": totals.messages,
        "valid": totals.valid,
        "dead_lettered": totals.rejected,
        "reasons": dict(sorted(totals.reasons.items())),
        "sink_rows": sink_rows,
        "dlq_rows": dlq_rows,
        "seconds": round(seconds, 3),
        "messages_per_s": round(totals.messages / busy) if busy > 0 else 0,
        "stopped_by": stopped_by,
        "windows": window_summary,
    }


def _start_windows(
    settings: Settings, idle_timeout: float | None, max_messages: int | None, commit_interval: float
) -> subprocess.Popen:
    args = [
        sys.executable,
        "-m",
        "stack.realtime.windows",
        "--commit-interval",
        str(commit_interval),
    ]
    if idle_timeout is not None:
        args += ["--idle-timeout", str(idle_timeout)]
    if max_messages is not None:
        args += ["--max-messages", str(max_messages)]
    # Its standard input is how we stop it: closing it (or dying) says "finish now".
    return subprocess.Popen(
        args,
        env={**os.environ, **settings.as_env()},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def _stop_windows(process: subprocess.Popen, timeout: float = 60) -> None:
    with contextlib.suppress(OSError):
        process.stdin.close()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _finish_windows(
    process: subprocess.Popen, *, stop: bool, on_notice: Callable[[str], None] | None
) -> dict:
    """Wait for the window process (stopping it first when we were signalled)."""
    if stop:
        _stop_windows(process)
    elif on_notice is not None and process.poll() is None:
        on_notice("waiting for the window totals to catch up...")
    output = process.stdout.read()
    _stop_windows(process)
    lines = [line for line in output.splitlines() if line.startswith("{")]
    if process.returncode != 0 or not lines:
        raise StackError(
            f"the window-totals process failed (exit code {process.returncode}); "
            "the sink's rows are committed, the window totals may lag: run "
            "`stack consume` again"
        )
    return json.loads(lines[-1])
