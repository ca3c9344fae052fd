"""PDFs parsed in worker processes: bounded, isolated, and gone when the ingest is.

- The workers fork from a fork server that imported the parser once, not from the ingest
  (which holds a database connection and library threads). Callers of ingest() therefore
  need the usual `if __name__ == "__main__":` guard in scripts.
- A worker dies with the ingest, even one killed by SIGKILL: the fork server exits when the
  ingest's end of its pipe closes, the workers have PR_SET_PDEATHSIG on the fork server, and
  a watchdog thread in each also exits once the ingest process is gone. (Left alone, they
  would block for ever reading their task pipe, and the resource tracker with them.)
- Each parse runs under the time limit (SIGALRM in the worker); should a parse be stuck
  where no signal reaches it, the watchdog ends the worker a little later.
- A worker that dies (killed, out of memory) breaks the pool: the files it held are parsed
  again one at a time in a fresh worker, so only a file that kills its worker fails, as
  `Crashed` (an internal error, not a reject).
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing import forkserver
from pathlib import Path

from stack.batch.pdf_parse import FailedPdf, ParsedPdf, PdfLimits, read_pdf
from stack.batch.time_limit import use_alarm

_PR_SET_PDEATHSIG = 1
_WATCH_EVERY = 0.5  # seconds between the watchdog's looks
_HARD_GRACE = 30.0  # seconds past the time limit before the watchdog ends a stuck parse
_parsing_since: float | None = None  # in a worker: when the current parse began
_hard_limit = 0.0


@dataclass
class Crashed:
    """The parser failed on the file (an exception, or its worker died)."""

    error: BaseException


class WorkerDied(Exception):
    """The worker process parsing the file died."""


Result = ParsedPdf | FailedPdf | Crashed


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):  # no prctl: the watchdog watches
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else (the pid was reused)
        return False
    return True


def _watchdog(ingest_pid: int, fork_server_pid: int) -> None:
    while True:
        time.sleep(_WATCH_EVERY)
        if os.getppid() != fork_server_pid or not _alive(ingest_pid):
            os._exit(1)  # orphaned: nobody will read the result
        since = _parsing_since
        if since is not None and time.monotonic() - since > _hard_limit:
            os._exit(70)  # stuck beyond the reach of SIGALRM: the pool retries, then fails it


def _worker_init(ingest_pid: int, limits: PdfLimits) -> None:
    global _hard_limit
    _die_with_parent()
    use_alarm()
    _hard_limit = limits.timeout_seconds + _HARD_GRACE
    threading.Thread(
        target=_watchdog, args=(ingest_pid, os.getppid()), name="stack-watchdog", daemon=True
    ).start()


def _parse(path: Path, relative: str, limits: PdfLimits) -> ParsedPdf | FailedPdf:
    """read_pdf in a worker, watched by the watchdog."""
    global _parsing_since
    _parsing_since = time.monotonic()
    try:
        return read_pdf(path, relative, limits)
    finally:
        _parsing_since = None


def _context() -> multiprocessing.context.ForkServerContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    return context


def start_parsers_early() -> None:
    """Start the fork server now: it imports pdfplumber (about half a second) while the
    ingest connects and scans, so the workers later start in milliseconds."""
    _context()
    forkserver.ensure_running()


def _pool(workers: int, limits: PdfLimits) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=_context(),
        initializer=_worker_init,
        initargs=(os.getpid(), limits),
    )


def _in_process(items: list[tuple[Path, str]], limits: PdfLimits) -> Iterator[tuple[str, Result]]:
    for path, relative in items:
        try:
            result: Result = read_pdf(path, relative, limits)
        except Exception as error:
            result = Crashed(error)
        yield relative, result


_Items = list[tuple[Path, str]]
_Started = tuple[ProcessPoolExecutor, dict[Future, tuple[Path, str]]]


def _start(items: _Items, workers: int, limits: PdfLimits) -> _Started:
    """The pool, parsing `items`. A worker that dies while they are handed out breaks the
    pool there: the files not handed out yet join those it took down (the next round)."""
    pool = _pool(min(workers, len(items)), limits)
    futures: dict[Future, tuple[Path, str]] = {}
    for path, rel in items:
        try:
            future = pool.submit(_parse, path, rel, limits)
        except BrokenProcessPool as error:
            future = Future()
            future.set_exception(error)
        futures[future] = (path, rel)
    return pool, futures


def _round(started: _Started, broken: _Items) -> Iterator[tuple[str, Result]]:
    """The results of a started pool as they come; the files a dying worker took down
    with the pool go to `broken`."""
    pool, futures = started
    try:
        for future in as_completed(futures):
            path, relative = futures[future]
            try:
                result: Result = future.result()
            except BrokenProcessPool:
                broken.append((path, relative))
                continue
            except Exception as error:
                result = Crashed(error)
            yield relative, result
    finally:
        pool.shutdown(cancel_futures=True)


def _rounds(first: _Started, workers: int, limits: PdfLimits) -> Iterator[tuple[str, Result]]:
    """All the results. The files of a broken pool go again to a fresh pool (a worker killed
    from outside), then those broken again one per pool, to find the file that kills its
    worker: only that one fails."""
    broken: _Items = []
    yield from _round(first, broken)
    if not broken:
        return
    again: _Items = []
    yield from _round(_start(broken, workers, limits), again)
    for path, relative in again:
        alone: _Items = []
        yield from _round(_start([(path, relative)], 1, limits), alone)
        if alone:
            yield relative, Crashed(WorkerDied("its worker process died (killed, out of memory?)"))


@contextmanager
def parse_pdfs(
    items: list[tuple[Path, str]], workers: int, limits: PdfLimits
) -> Iterator[Iterator[tuple[str, Result]]]:
    """(relative path, result) for each (path, relative path), as the parses finish. With
    one worker (or one file) they parse here, one by one, when the iterator is read."""
    if workers <= 1 or len(items) <= 1:
        yield _in_process(items, limits)
        return
    first = _start(items, workers, limits)  # the workers parse from now on
    parsed = _rounds(first, workers, limits)
    try:
        yield parsed
    finally:
        parsed.close()  # a later round's pool, if one is running
        first[0].shutdown(cancel_futures=True)
