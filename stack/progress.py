"""The one progress protocol of long work: an event callback, shared by every job.

A job (produce, consume, ingest, load, transform, the service lifecycle, ...) takes
`on_event: OnEvent | None` and calls it as it goes; the CLI renders the events (rich), an
Airflow task may log them, a test may collect them. Notices (a retry, a wait) are also sent
to `logging`, so they are not lost when nobody listens.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

Job = Literal[
    "services",
    "produce",
    "consume",
    "generate",
    "ingest",
    "load",
    "transform",
    "steps",
    "index",
    "eval",
]
# start: work on `item` (or the whole job) begins, `total` when known; progress: `done` of
# `total` so far; item: one thing finished (a file, a service), `detail` says how;
# done: the job (or `item`) finished; notice: something people should know (a retry, a
# wait); log: a line of a tool's own output (dbt).
Kind = Literal["start", "progress", "item", "done", "notice", "log"]


@dataclass(frozen=True)
class Event:
    job: Job
    kind: Kind
    item: str | None = None
    done: int | None = None
    total: int | None = None
    detail: str = ""
    result: Any = None  # on a step's `item` event (stack.jobs): that step's summary


OnEvent = Callable[[Event], None]


class Reporter:
    """A job's side of the protocol: `report.start(...)`, `report.progress(...)`, ...; a
    no-op when nobody listens (except notices, which always reach `logging`)."""

    def __init__(self, job: Job, on_event: OnEvent | None, logger: logging.Logger) -> None:
        self.job = job
        self.on_event = on_event
        self.log = logger

    def emit(
        self,
        kind: Kind,
        item: str | None = None,
        *,
        done: int | None = None,
        total: int | None = None,
        detail: str = "",
    ) -> None:
        if self.on_event is not None:
            self.on_event(Event(self.job, kind, item, done, total, detail))

    def start(self, item: str | None = None, *, total: int | None = None, detail: str = "") -> None:
        self.emit("start", item, total=total, detail=detail)

    def progress(self, done: int, *, item: str | None = None, total: int | None = None) -> None:
        self.emit("progress", item, done=done, total=total)

    def item(
        self, item: str, detail: str = "", *, done: int | None = None, result: Any = None
    ) -> None:
        if self.on_event is not None:
            self.on_event(Event(self.job, "item", item, done, None, detail, result))

    def done(self, item: str | None = None, *, done: int | None = None, detail: str = "") -> None:
        self.emit("done", item, done=done, detail=detail)

    def notice(self, text: str) -> None:
        self.log.warning(text)
        self.emit("notice", detail=text)

    def line(self, text: str) -> None:
        self.emit("log", detail=text)
