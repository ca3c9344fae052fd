"""The sink's writer in a child process, so that validation and COPY run beside the Quix loop.

Why a process: the consumer's hot path is Quix's per-message work plus validating and
COPYing each event; in one process they share the GIL (measured: 15-25 % slower end to end
than this). The sink in the Quix process only appends raw messages and ships chunks of them
over a socket; the child validates, stages and upserts them inside one open transaction and
commits when the sink's `flush()` asks.

The child dies with its parent: it exits, quietly, when the socket closes (the parent exited
or was SIGKILLed), and closing its connection rolls back whatever was not committed. It
ignores SIGINT (Ctrl+C reaches the whole process group; the parent decides when to stop).
When the child dies instead (SIGKILL, OOM), the client says so with `WriterDied`: nothing of
the open transaction was committed, and the sink starts a new child (sink.py).

Protocol (pickled tuples over the socket): ("open",) -> reply; ("write", chunk) -> no reply
(pipelined); ("commit",) -> reply; ("abandon",) -> reply; ("close",) -> reply, exit. A reply
is ("ok", value) | ("retry", message) (PostgreSQL unavailable: worth waiting) |
("config", message) (PostgreSQL refuses the settings: exit 2) | ("fatal", message) (a bug).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from multiprocessing.connection import Connection

from stack.errors import ConfigError, StackError
from stack.realtime.writer import (
    RawMessage,
    SinkWriter,
    WriteCounts,
    is_connection_problem,
    sort_messages,
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


class _Staging:
    """The child's two stages: this thread validates chunk k+1 while a database thread COPYs
    and upserts chunk k (waiting on PostgreSQL releases the GIL), in order."""

    def __init__(self, writer: SinkWriter) -> None:
        self.writer = writer
        self.database = ThreadPoolExecutor(max_workers=1, thread_name_prefix="writer-db")
        self.inflight: list[Future] = []

    def write(self, chunk: list[RawMessage]) -> None:
        rows, dead = sort_messages(chunk, self.writer.topic, self.writer.clock_skew_s)
        self.inflight.append(self.database.submit(self.writer.store, rows, dead, chunk))

    def settle(self) -> BaseException | None:
        """Wait for every staged chunk; the first error, if any."""
        inflight, self.inflight = self.inflight, []
        errors = [future.exception() for future in inflight]
        return next((error for error in errors if error is not None), None)

    def run(self, function, *args):
        return self.database.submit(function, *args).result()


class ParentGone(Exception):
    """The sink's end of the socket closed: the parent exited or was killed."""


def _send(conn: Connection, message: tuple) -> None:
    try:
        conn.send(message)
    except OSError:  # BrokenPipeError, ConnectionResetError
        raise ParentGone from None


def serve(conn: Connection, writer: SinkWriter) -> None:
    """The child's loop: run commands until told to close or the parent goes away."""
    staging = _Staging(writer)
    failure: BaseException | None = None  # the first error since the last commit/abandon

    def reply_failure(error: BaseException) -> None:
        staging.settle()
        staging.run(writer.abandon)
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
                if failure is None:
                    try:
                        staging.write(args[0])
                    except Exception as error:  # reported at the next commit
                        failure = error
                continue
            if command in ("open", "commit"):
                try:
                    failure = failure or staging.settle()
                    if failure is not None:
                        raise failure
                    result = staging.run(writer.open if command == "open" else writer.commit)
                except Exception as error:
                    reply_failure(error)
                else:
                    _send(conn, ("ok", result))
                failure = None
            elif command == "abandon":
                staging.settle()
                staging.run(writer.abandon)
                failure = None
                _send(conn, ("ok", None))
            elif command == "close":
                staging.settle()
                staging.run(writer.close)
                _send(conn, ("ok", None))
                return
    except ParentGone:  # roll back (closing without commit) and leave, quietly
        staging.settle()
        staging.run(writer.close)


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
