"""The sink's writer in a child process, so that validation and COPY run beside the Quix loop.

Why a process: the consumer's hot path is Quix's per-message work plus validating and
COPYing each event; in one process they share the GIL (measured: 15-25 % slower end to end
than this). The sink in the Quix process only appends raw messages and ships chunks of them
over a socket; the child validates, stages and upserts them inside one open transaction and
commits when the sink's `flush()` asks.

The child dies with its parent: it exits when the socket closes (the parent exited or was
SIGKILLed), and closing its connection rolls back whatever was not committed. It ignores
SIGINT (Ctrl+C reaches the whole process group; the parent decides when to stop).

Protocol (pickled tuples over the socket): ("open",) -> reply; ("write", chunk) -> no reply
(pipelined); ("commit",) -> reply; ("abandon",) -> reply; ("close",) -> reply, exit. A reply
is ("ok", value) | ("retry", message) (PostgreSQL unavailable: worth waiting) |
("fatal", message).
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

from stack.errors import StackError
from stack.realtime.writer import (
    RawMessage,
    SinkWriter,
    WriteCounts,
    is_connection_problem,
    sort_messages,
)
from stack.settings import Settings, load_settings

log = logging.getLogger(__name__)


class WriterUnavailable(Exception):
    """PostgreSQL cannot be reached: nothing was committed; retry later."""


class WriterClient:
    """The sink's handle on its writer process."""

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
        raise StackError(f"the sink's writer failed: {value}")

    def _died(self) -> StackError:
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        return StackError(
            f"the sink's writer process exited unexpectedly (exit code {code}); "
            "nothing after the last commit was committed"
        )

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
        except StackError:
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
        rows, dead = sort_messages(chunk, self.writer.topic)
        self.inflight.append(
            self.database.submit(self.writer.store, rows, dead, messages=len(chunk))
        )

    def settle(self) -> BaseException | None:
        """Wait for every staged chunk; the first error, if any."""
        inflight, self.inflight = self.inflight, []
        errors = [future.exception() for future in inflight]
        return next((error for error in errors if error is not None), None)

    def run(self, function, *args):
        return self.database.submit(function, *args).result()


def serve(conn: Connection, writer: SinkWriter) -> None:
    """The child's loop: run commands until told to close or the parent goes away."""
    staging = _Staging(writer)
    failure: BaseException | None = None  # the first error since the last commit/abandon

    def reply_failure(error: BaseException) -> None:
        staging.settle()
        staging.run(writer.abandon)
        kind = "retry" if is_connection_problem(error) else "fatal"
        first_line = (str(error).strip().splitlines() or [""])[0]
        message = f"{type(error).__name__}: {first_line}"
        if kind == "fatal":  # a bug, not a user error: keep its traceback in the log file
            log.error("the sink's writer failed", exc_info=error)
            message += f" (traceback in {crash_log(writer.settings)})"
        conn.send((kind, message))

    while True:
        try:
            command, *args = conn.recv()
        except (EOFError, OSError):  # the parent is gone: roll back and leave
            staging.settle()
            staging.run(writer.close)
            return
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
                conn.send(("ok", staging.run(writer.open if command == "open" else writer.commit)))
            except Exception as error:
                reply_failure(error)
            failure = None
        elif command == "abandon":
            staging.settle()
            staging.run(writer.abandon)
            failure = None
            conn.send(("ok", None))
        elif command == "close":
            staging.settle()
            staging.run(writer.close)
            conn.send(("ok", None))
            return


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
    logging.getLogger("stack").addHandler(handler)
    writer = SinkWriter(settings, topic)
    try:
        serve(Connection(fd), writer)
    except (BrokenPipeError, ConnectionResetError):  # the parent went away mid-reply
        writer.close()
    os._exit(0)  # the database thread holds nothing worth waiting for


if __name__ == "__main__":
    main()
