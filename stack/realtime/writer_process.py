"""The sink's writer in a child process, so that validation and COPY run beside the Quix loop.

Why a process: the consumer's hot path is Quix's per-message work plus validating and
COPYing each event; in one process they share the GIL (measured: 15-25 % slower end to end
than this). The sink in the Quix process only appends raw messages and ships them over a
socket every few milliseconds; the child validates each piece as it comes, and a database
thread writes and COMMITs whatever has been validated each time it is free: one batch. At a
low rate each piece is written at once (latency: milliseconds); as the rate grows, pieces
pile up while a batch is written, so batches grow (throughput: fewer statements and commits
per row). A "commit" from the sink is a barrier: it is answered once every piece sent before
it is committed, and only then does Quix commit the Kafka offsets.

The child dies with its parent: it exits, quietly, when the socket closes (the parent exited
or was SIGKILLed), and closing its connection rolls back whatever was not committed. It
ignores SIGINT (Ctrl+C reaches the whole process group; the parent decides when to stop).
When the child dies instead (SIGKILL, OOM), the client says so with `WriterDied`: nothing of
the open transaction was committed, and the sink starts a new child (sink.py).

Protocol (pickled tuples over the socket): ("open",) -> reply; ("write", chunk) -> no reply
(pipelined); ("commit",) -> reply, once all earlier pieces are committed, with their counts;
("abandon",) -> reply (what was not committed is forgotten, its counts too: those messages
come again); ("close",) -> reply, exit. A reply
is ("ok", value) | ("retry", message) (PostgreSQL unavailable: worth waiting) |
("config", message) (PostgreSQL refuses the settings: exit 2) | ("fatal", message) (a bug).
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection

from stack.errors import ConfigError, StackError
from stack.realtime.writer import (
    RawMessage,
    SinkWriter,
    WriteCounts,
    is_connection_problem,
    newest_rows,
    validate_chunk,
)
from stack.settings import Settings, load_settings

log = logging.getLogger("stack.realtime.writer_process")  # not __main__: it runs as one


class WriterUnavailable(Exception):
    """PostgreSQL cannot be reached: nothing was committed; retry later."""


class WriterDied(WriterUnavailable):
    """The writer process is gone (killed, crashed): nothing of its open transaction was
    committed; start a new one and retry."""


class WriterClient:
    """The sink's handle on its writer process (one process; make a new client to restart)."""

    def __init__(self, settings: Settings, topic: str) -> None:
        parent_end, child_end = socket.socketpair()
        env = {**os.environ, **settings.as_env()}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "stack.realtime.writer_process", str(child_end.fileno()), topic],
            pass_fds=[child_end.fileno()],
            env=env,
        )
        child_end.close()
        self.conn = Connection(parent_end.detach())

    def _send(self, message: tuple) -> None:
        try:
            self.conn.send(message)
        except OSError:
            raise self._died() from None

    def _call(self, *message: object) -> object:
        self._send(message)
        try:
            status, value = self.conn.recv()
        except (EOFError, OSError):
            raise self._died() from None
        if status == "ok":
            return value
        if status == "retry":
            raise WriterUnavailable(value)
        if status == "config":
            raise ConfigError(value)
        raise StackError(f"the sink's writer failed: {value}")

    def _died(self) -> WriterDied:
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
        return WriterDied(f"the sink's writer process died ({how})")

    def open(self) -> None:
        self._call("open")

    def write(self, chunk: list[RawMessage]) -> None:
        self._send(("write", chunk))

    def commit(self) -> WriteCounts:
        return self._call("commit")  # type: ignore[return-value]

    def abandon(self) -> None:
        self._call("abandon")

    def close(self) -> None:
        try:
            if self.process.poll() is None:
                self._call("close")
        except (StackError, WriterUnavailable):
            pass
        finally:
            self.conn.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# The most messages one batch writes: a bound on memory and on the time a commit waits.
MAX_BATCH = 50_000


class _Barrier:
    """A point in the stream of pieces, answered by the database thread once it is reached."""

    def __init__(self, action: Callable[[], object] | None = None, *, forget: bool = False):
        self.action = action  # run in the database thread (open, close)
        self.forget = forget  # abandon: drop the counts (and the failure) instead
        self.done = threading.Event()
        self.result: object = None
        self.error: BaseException | None = None

    def wait(self) -> object:
        self.done.wait()
        if self.error is not None:
            raise self.error
        return self.result


class _Batches:
    """This thread validates each piece as it comes; a database thread writes and commits
    whatever has been validated each time it is free (waiting on PostgreSQL releases the
    GIL), in order."""

    def __init__(self, writer: SinkWriter) -> None:
        self.writer = writer
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.counts = WriteCounts()  # committed since the last barrier
        self.failure: BaseException | None = None  # the first error since the last barrier
        threading.Thread(target=self._run, name="writer-db", daemon=True).start()

    def piece(self, chunk: list[RawMessage]) -> None:
        if self.failure is not None:  # the next barrier reports it; these come again
            return
        try:
            valid, dead = validate_chunk(chunk, self.writer.topic, self.writer.clock_skew_s)
        except Exception as error:  # a bug: reported at the next barrier
            self.failure = self.failure or error
            return
        self.queue.put((chunk, valid, dead))

    def barrier(self, action: Callable[[], object] | None = None, *, forget: bool = False):
        """Wait until everything before it is committed; its counts (or the first failure)."""
        barrier = _Barrier(action, forget=forget)
        self.queue.put(barrier)
        return barrier.wait()

    def _run(self) -> None:
        while True:
            item = self.queue.get()
            batch: list[tuple] = []
            size = 0
            while not isinstance(item, _Barrier):
                batch.append(item)
                size += len(item[0])
                if size >= MAX_BATCH:
                    break
                try:
                    item = self.queue.get_nowait()
                except queue.Empty:
                    break
            if batch:
                self._write(batch)
            if isinstance(item, _Barrier):
                self._answer(item)

    def _write(self, batch: list[tuple]) -> None:
        if self.failure is not None:
            return
        chunk: list[RawMessage] = []
        valid: list = []
        dead: list[tuple] = []
        for piece_chunk, piece_valid, piece_dead in batch:
            chunk += piece_chunk
            valid += piece_valid
            dead += piece_dead
        try:
            rows, conflicts = newest_rows(valid, self.writer.topic)
            self.writer.store(rows, dead + conflicts, chunk)
            self.counts.add(self.writer.commit())
        except Exception as error:
            self.failure = error
            self.writer.abandon()

    def _sync(self) -> None:
        try:
            self.writer.sync()
        except Exception:
            self.writer.abandon()  # a new connection next time: PostgreSQL may be gone
            raise

    def _answer(self, barrier: _Barrier) -> None:
        failure, counts = self.failure, self.counts
        self.failure, self.counts = None, WriteCounts()
        if barrier.forget:
            self.writer.abandon()
            failure = None
        try:
            if failure is not None:
                raise failure
            if barrier.action is not None:
                barrier.result = barrier.action()
            else:
                if not barrier.forget:  # a commit: Kafka commits the offsets once it returns
                    self._sync()
                barrier.result = counts
        except BaseException as error:  # reported to the sink by the thread that waits
            barrier.error = error
        barrier.done.set()


class ParentGone(Exception):
    """The sink's end of the socket closed: the parent exited or was killed."""


def _send(conn: Connection, message: tuple) -> None:
    try:
        conn.send(message)
    except OSError:  # BrokenPipeError, ConnectionResetError
        raise ParentGone from None


def serve(conn: Connection, writer: SinkWriter) -> None:
    """The child's loop: run commands until told to close or the parent goes away."""
    batches = _Batches(writer)

    def reply_failure(error: BaseException) -> None:
        if isinstance(error, ConfigError):
            kind = "config"
        else:
            kind = "retry" if is_connection_problem(error) else "fatal"
        first_line = (str(error).strip().splitlines() or [""])[0]
        message = first_line if kind == "config" else f"{type(error).__name__}: {first_line}"
        if kind == "fatal":  # a bug, not a user error: keep its traceback in the log file
            log.error("the sink's writer failed", exc_info=error)
            message += f" (traceback in {crash_log(writer.settings)})"
        _send(conn, (kind, message))

    try:
        while True:
            try:
                command, *args = conn.recv()
            except (EOFError, OSError):
                raise ParentGone from None
            if command == "write":
                batches.piece(args[0])
                continue
            action = {"open": writer.open, "close": writer.close}.get(command)
            try:
                result = batches.barrier(action, forget=command == "abandon")
            except Exception as error:
                reply_failure(error)
            else:
                _send(conn, ("ok", result))
            if command == "close":
                return
    except ParentGone:  # what is not committed is lost with the connection, quietly
        batches.barrier(writer.close, forget=True)


def crash_log(settings: Settings):
    """Where the writer child keeps the tracebacks of its failures."""
    return settings.stack_home / "logs" / "sink-writer.log"


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    fd, topic = int(sys.argv[1]), sys.argv[2]
    settings = load_settings()
    path = crash_log(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, delay=True)  # the file appears with the first failure
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger("stack")
    root.addHandler(handler)
    root.propagate = False  # to the file only: the parent tells the user, in one line
    serve(Connection(fd), SinkWriter(settings, topic))
    os._exit(0)  # the database thread holds nothing worth waiting for


if __name__ == "__main__":
    main()
