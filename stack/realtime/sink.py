"""The Quix sink of the realtime pipeline: raw messages in, rows committed in PostgreSQL out.

Crash safety rests on Quix's checkpoint protocol: at each checkpoint Quix calls `flush()` on
every sink and commits the Kafka offsets only if all flushes returned. `flush()` returns
only after every message of the checkpoint is committed in PostgreSQL.
When PostgreSQL cannot be reached it raises `SinkBackpressureError`: Quix commits nothing,
seeks the partitions back to the checkpoint's first offsets and pauses them for the backoff,
and the same messages come again. So a crash at any instant (SIGKILL included) loses nothing
(offsets never run ahead of committed rows) and duplicates nothing (the upsert keeps the
newest version; dead-letter rows are unique per topic/partition/offset).

Latency does not wait for checkpoints: `add()` only appends, and every `ship_every` seconds
(or each `max_piece` messages) what has come goes to the writer process
(`writer_process.py`), which validates it and writes and commits it as soon as its database
thread is free, while the Quix loop keeps consuming. Rows are visible milliseconds after
their message came; at `flush()`, little is left but to wait for the last batch. Rows may so
be committed before their offsets (never the other way round): after a crash they come
again, and the upsert makes that harmless.

When the writer process dies (SIGKILL, OOM), its open transaction dies with it: the next
`flush()` starts a new writer and backpressures, so the same messages come again, exactly as
when PostgreSQL goes away. When the Application itself is replaced (Kafka failed under it,
runner.py), `reset()` drops what is uncommitted, and the messages this sink had committed
but whose offsets Kafka did not are skipped, not counted twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from quixstreams.sinks import BaseSink, SinkBackpressureError

from stack.errors import StackError
from stack.realtime.writer import RawMessage, WriteCounts, backoff
from stack.realtime.writer_process import (
    WriterClient,
    WriterDied,
    WriterUnavailable,
    crash_log,
)
from stack.settings import Settings

log = logging.getLogger(__name__)

# Writer processes that may die in a row (without a commit between) before the sink gives up:
# one that dies on every start is a bug, not bad luck.
MAX_WRITER_DEATHS = 5


class TransactionsSink(BaseSink):
    """Validate each message; valid events -> transactions_sink (upsert), others -> DLQ."""

    def __init__(
        self,
        settings: Settings,
        topic: str,
        *,
        ship_every: float = 0.005,
        max_piece: int = 10_000,
        on_committed: Callable[[WriteCounts], None] | None = None,
        on_notice: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(
            on_client_connect_success=lambda: None, on_client_connect_failure=self._connect_failed
        )
        self.settings = settings
        self.topic = topic
        self.ship_every = ship_every
        self.max_piece = max_piece
        self._lock = threading.Lock()  # the buffer and the socket: add() and the shipper
        self._shipper: threading.Thread | None = None
        self._closed = threading.Event()
        self.on_committed = on_committed
        self.on_notice = on_notice
        self.writer: WriterClient | None = None
        self._buffer: list[RawMessage] = []
        self._pending = False  # something was sent to the writer since the last commit
        self._lost: WriterDied | None = None  # the writer died since the last commit
        self.failures = 0  # consecutive failed checkpoints (drives the backoff)
        self.writer_deaths = 0  # consecutive, without a commit between
        self.committed = WriteCounts()  # totals of this run
        self.last_commit_at: float | None = None  # time.monotonic() of the last commit
        self._added: dict[int, int] = {}  # partition -> last offset added since the commit
        self._durable: dict[int, int] = {}  # partition -> last offset this sink committed
        self._replayed: dict[int, int] = {}  # after reset(): offsets already committed here

    # --- the Quix sink protocol ------------------------------------------------------------
    def setup(self) -> None:
        if self.writer is None:
            self.writer = WriterClient(self.settings, self.topic)
        if self._shipper is None:
            self._shipper = threading.Thread(target=self._ship_often, name="sink-ship", daemon=True)
            self._shipper.start()
        with self._lock:
            self.writer.open()

    def _connect_failed(self, error: Exception | None) -> None:
        # PostgreSQL down (or the writer dead) at start is not fatal: the first flush retries.
        if isinstance(error, WriterDied):
            self._lost = error
            return
        if not isinstance(error, WriterUnavailable):
            raise error or RuntimeError("the sink could not start")
        self.failures += 1
        self._report_retry(str(error))

    def add(self, value, key, timestamp, headers, topic, partition, offset) -> None:
        if self._replayed:
            done = self._replayed.get(partition)
            if done is not None:
                if offset <= done:
                    return  # committed by this sink before its Application was replaced
                del self._replayed[partition]
        self._added[partition] = offset
        with self._lock:
            buffer = self._buffer
            buffer.append((key, value, partition, offset, timestamp))
            if len(buffer) >= self.max_piece:
                self._ship()

    def _ship_often(self) -> None:
        """Hand what has come to the writer every `ship_every` seconds: a message waits for
        the writer that long at most, whatever the rate (the Quix loop calls nothing while no
        message comes)."""
        while not self._closed.wait(self.ship_every):
            with self._lock:
                if self._buffer and self.writer is not None:
                    self._ship()

    def _ship(self) -> None:
        """Send the buffer to the writer (the caller holds the lock)."""
        chunk, self._buffer = self._buffer, []
        self._pending = True
        if self._lost is None:
            try:
                self.writer.write(chunk)
            except WriterDied as error:  # the checkpoint's messages come again after flush()
                self._lost = error

    def flush(self) -> None:
        with self._lock:
            self._flush()

    def _flush(self) -> None:
        if self._buffer:
            self._ship()
        if self._lost is not None:
            self._restart_writer()
        if not self._pending:
            return
        self._pending = False
        try:
            counts = self.writer.commit()
        except WriterDied as error:
            self._lost = error
            self._restart_writer()
        except WriterUnavailable as error:
            self._added = {}
            self.failures += 1
            delay = self._report_retry(str(error))
            raise SinkBackpressureError(retry_after=delay) from None
        if self.failures:
            self._notice("PostgreSQL is back: resumed, and the retried messages are committed")
        if self.writer_deaths:
            self._notice("the new writer process committed the retried messages: resumed")
        self.failures = self.writer_deaths = 0
        self._durable.update(self._added)
        self._added = {}
        self.last_commit_at = time.monotonic()
        self.committed.add(counts)
        if self.on_committed is not None:
            self.on_committed(counts)

    def on_paused(self) -> None:
        # Another sink backpressured: drop what we hold, Quix sends it again.
        with self._lock:
            self._drop()

    # --- recovery ----------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget what is uncommitted: the Application is being replaced, and the new one
        starts from the last committed offsets."""
        with self._lock:
            self._drop()
        self._replayed = dict(self._durable)

    def _drop(self) -> None:
        self._buffer = []
        self._pending = False
        self._added = {}
        if self.writer is not None and self._lost is None:
            self._ask_writer(self.writer.abandon)  # unavailable: nothing left to roll back

    def _restart_writer(self) -> None:
        """A new writer process for a dead one; the checkpoint's messages come again."""
        error, self._lost = self._lost, None
        self._buffer, self._pending, self._added = [], False, {}
        self.writer_deaths += 1
        if self.writer_deaths > MAX_WRITER_DEATHS:
            raise StackError(
                f"{error}, {self.writer_deaths} times in a row without a commit: giving up "
                "(no offsets were committed after the last checkpoint; see "
                f"{crash_log(self.settings)})"
            )
        if self.writer is not None:
            self.writer.close()
        delay = backoff(self.writer_deaths)
        self._notice(
            f"{error}; its open batch rolled back, and no offsets moved since the last "
            f"checkpoint: started a new one, the messages since come again in {delay:.1f} s"
        )
        self.writer = WriterClient(self.settings, self.topic)
        self._ask_writer(self.writer.open)  # PostgreSQL down too: the next commit says so
        raise SinkBackpressureError(retry_after=delay)

    def _ask_writer(self, request: Callable[[], object]) -> None:
        """`request()`, recording a writer death for the next flush; PostgreSQL being
        unavailable is the next commit's to report."""
        try:
            request()
        except WriterDied as error:
            self._lost = error
        except WriterUnavailable:
            pass

    # --- helpers -----------------------------------------------------------------------------
    @property
    def idle(self) -> bool:
        """Nothing buffered or sent but uncommitted. (Messages that a failed checkpoint
        gave back are not committed in Kafka either: the caller's lag check sees them.)"""
        return not self._buffer and not self._pending

    def _report_retry(self, reason: str) -> float:
        delay = backoff(self.failures)
        self._notice(
            f"PostgreSQL unavailable ({reason}); offsets held (what came since the last "
            f"checkpoint comes again), retrying in {delay:.1f} s"
        )
        return delay

    def _notice(self, message: str) -> None:
        if self.on_notice is not None:
            self.on_notice(message)
        else:
            log.warning(message)

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            if self.writer is not None:
                self.writer.close()
                self.writer = None
