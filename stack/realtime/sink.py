"""The Quix sink of the realtime pipeline: raw messages in, rows committed in PostgreSQL out.

Crash safety rests on Quix's checkpoint protocol: at each checkpoint Quix calls `flush()` on
every sink and commits the Kafka offsets only if all flushes returned. `flush()` returns
only after the PostgreSQL transaction holding every message of the checkpoint committed.
When PostgreSQL cannot be reached it raises `SinkBackpressureError`: Quix commits nothing,
seeks the partitions back to the checkpoint's first offsets and pauses them for the backoff,
and the same messages come again. So a crash at any instant (SIGKILL included) loses nothing
(offsets never run ahead of committed rows) and duplicates nothing (the upsert keeps the
newest version; dead-letter rows are unique per topic/partition/offset).

`add()` only appends; each `chunk_size` messages the chunk goes to the writer process
(`writer_process.py`), which validates, COPYs and upserts it inside the open transaction
while the Quix loop keeps consuming; at `flush()` little is left but the COMMIT.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from quixstreams.sinks import BaseSink, SinkBackpressureError

from stack.realtime.writer import RawMessage, WriteCounts, backoff
from stack.realtime.writer_process import WriterClient, WriterUnavailable
from stack.settings import Settings

log = logging.getLogger(__name__)


class TransactionsSink(BaseSink):
    """Validate each message; valid events -> transactions_sink (upsert), others -> DLQ."""

    def __init__(
        self,
        settings: Settings,
        topic: str,
        *,
        chunk_size: int = 10_000,
        on_committed: Callable[[WriteCounts], None] | None = None,
        on_retry: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(
            on_client_connect_success=lambda: None, on_client_connect_failure=self._connect_failed
        )
        self.settings = settings
        self.topic = topic
        self.chunk_size = chunk_size
        self.on_committed = on_committed
        self.on_retry = on_retry
        self.writer: WriterClient | None = None
        self._buffer: list[RawMessage] = []
        self._pending = False  # something was sent to the writer since the last commit
        self.failures = 0  # consecutive failed checkpoints (drives the backoff)
        self.committed = WriteCounts()  # totals of this run
        self.last_commit_at: float | None = None  # time.monotonic() of the last commit

    # --- the Quix sink protocol ------------------------------------------------------------
    def setup(self) -> None:
        self.writer = WriterClient(self.settings, self.topic)
        self.writer.open()

    def _connect_failed(self, error: Exception | None) -> None:
        # PostgreSQL down at start is not fatal: the first flush retries with a backoff.
        if not isinstance(error, WriterUnavailable):
            raise error or RuntimeError("the sink could not start")
        self.failures += 1
        self._report_retry(str(error))

    def add(self, value, key, timestamp, headers, topic, partition, offset) -> None:
        buffer = self._buffer
        buffer.append((key, value, partition, offset))
        if len(buffer) >= self.chunk_size:
            self.writer.write(buffer)
            self._buffer = []
            self._pending = True

    def flush(self) -> None:
        if self._buffer:
            self.writer.write(self._buffer)
            self._buffer = []
            self._pending = True
        if not self._pending:
            return
        self._pending = False
        try:
            counts = self.writer.commit()
        except WriterUnavailable as error:
            self.failures += 1
            delay = self._report_retry(str(error))
            raise SinkBackpressureError(retry_after=delay) from None
        if self.failures:
            self._notice("PostgreSQL is back: resumed, and the retried messages are committed")
        self.failures = 0
        self.last_commit_at = time.monotonic()
        self.committed.add(counts)
        if self.on_committed is not None:
            self.on_committed(counts)

    def on_paused(self) -> None:
        # Another sink backpressured: drop what we hold, Quix sends it again.
        self._buffer = []
        self._pending = False
        self.writer.abandon()

    # --- helpers -----------------------------------------------------------------------------
    @property
    def idle(self) -> bool:
        """Nothing buffered or sent but uncommitted. (Messages that a failed checkpoint
        gave back are not committed in Kafka either: the caller's lag check sees them.)"""
        return not self._buffer and not self._pending

    def _report_retry(self, reason: str) -> float:
        delay = backoff(self.failures)
        self._notice(
            f"PostgreSQL unavailable ({reason}); nothing committed, offsets held, "
            f"retrying in {delay:.1f} s"
        )
        return delay

    def _notice(self, message: str) -> None:
        if self.on_retry is not None:
            self.on_retry(message)
        else:
            log.warning(message)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
