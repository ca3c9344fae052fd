"""A time limit on one file's parse: SIGALRM where this process owns the signal (the PDF
worker processes: it interrupts even a single pathological page), otherwise a deadline the
parser checks between pages (in-process parsing never touches a host's signal handlers)."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

_alarm = False  # set in worker processes (use_alarm)


class TimeUp(BaseException):
    """The time limit passed. A BaseException: the parser's `except Exception` clauses (it
    catches what damaged PDFs raise) must not swallow it."""


def use_alarm() -> None:
    """Let time_limit() use SIGALRM in this process (a worker that owns its signals)."""
    global _alarm
    _alarm = True


def _raise(signum: int, frame: object) -> None:
    raise TimeUp


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds

    def check(self) -> None:
        if time.monotonic() > self.at:
            raise TimeUp


@contextmanager
def time_limit(seconds: float) -> Iterator[Deadline]:
    """Raise TimeUp inside the block once `seconds` have passed (see the module doc)."""
    deadline = Deadline(seconds)
    armed = _alarm and threading.current_thread() is threading.main_thread()
    if armed:
        previous = signal.signal(signal.SIGALRM, _raise)
        signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield deadline
    finally:
        if armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
