"""Progress events for the agent's long work (`index`, `eval`).

The library-wide `stack.progress.Event` when the stack has it; until then the same shape here,
so callers (the CLI) code against one thing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

try:  # the lead's stack/progress.py (issue 8)
    from stack.progress import Event, OnEvent
except ImportError:  # pragma: no cover - until it lands

    @dataclass(frozen=True)
    class Event:  # type: ignore[no-redef]
        job: str
        kind: str  # start | progress | item | done | notice
        item: str | None = None
        done: int | None = None
        total: int | None = None
        detail: str = ""

    OnEvent = Callable[[Event], None]  # type: ignore[misc]


def emitter(on_event: OnEvent | None, job: str) -> Callable[..., None]:
    """`emit(kind, item=None, done=None, total=None, detail="")` for one job; a no-op without
    a callback."""

    def emit(kind: str, item: str | None = None, **fields) -> None:
        if on_event is not None:
            on_event(Event(job, kind, item, **fields))

    return emit


__all__ = ["Event", "OnEvent", "emitter"]
