"""Rendering the jobs' events (stack.progress) for people: live progress bars on stderr,
notices in yellow above them, the services' lines, and each step's summary in `stack demo`."""

from __future__ import annotations

import time

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from stack.cli.console import err
from stack.cli.summaries import print_summary
from stack.progress import Event

# What each job counts, for the progress line.
_UNITS = {
    "produce": "events",
    "consume": "messages",
    "generate": "files",
    "ingest": "files",
    "load": "rows",
}


class LiveProgress:
    """`with LiveProgress() as on_event: job(..., on_event=on_event)`."""

    def __init__(self, *, show_logs: bool = False) -> None:
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        )
        self.tasks: dict[tuple[str, str | None], tuple[TaskID, float]] = {}
        self.show_logs = show_logs  # a tool's own lines (dbt's): for `stack transform`

    def __enter__(self) -> LiveProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)

    def _print(self, text: str, **options: object) -> None:
        self.progress.console.print(text, highlight=False, soft_wrap=True, **options)

    def _task(self, event: Event, total: int | None = None) -> TaskID:
        key = (event.job, event.item)
        if key not in self.tasks:
            what = f"{event.job} {event.item}" if event.item else event.job
            self.tasks[key] = (self.progress.add_task(what, total=total, rate=""), time.monotonic())
        return self.tasks[key][0]

    def _advance(self, event: Event, done: int) -> None:
        task = self._task(event)
        began = self.tasks[(event.job, event.item)][1]
        seconds = time.monotonic() - began
        rate = f"{done / seconds:,.0f} {_UNITS.get(event.job, '')}/s" if seconds > 0.2 else ""
        self.progress.update(task, completed=done, total=event.total, rate=rate)

    def __call__(self, event: Event) -> None:
        if event.kind == "notice":
            self._print(f"[yellow]{event.detail}[/]")
        elif event.kind == "log":
            if self.show_logs:
                self._print(event.detail, style="dim", markup=False)
        elif event.job == "steps":
            self._step(event)
        elif event.job == "services":
            self._service(event)
        elif event.kind == "start":
            self._task(event, event.total)
        elif event.kind == "progress" and event.done is not None:
            self._advance(event, event.done)
        elif event.kind == "item" and event.job == "ingest" and event.done is not None:
            job_task = Event(event.job, "progress", None, event.done)
            self._advance(job_task, event.done)
            self.progress.update(self._task(job_task), description=f"ingest {event.item}")
        elif event.kind in ("item", "done"):
            key = (event.job, event.item)
            if key in self.tasks:
                self.progress.remove_task(self.tasks.pop(key)[0])

    def _step(self, event: Event) -> None:
        if event.kind == "start":
            err.rule(f"[bold]{event.item}")
        elif event.kind == "item" and event.result is not None:
            print_summary(event.result)

    def _service(self, event: Event) -> None:
        if event.kind == "start":
            self._print(event.detail)
        elif event.kind == "item":
            self._print(f"  {event.item}: {event.detail}")
        elif event.kind == "done":
            self._print(event.detail)


def run_job(job, /, *, show_logs: bool = False, **options):
    """`job(settings, **options)` with its events rendered live: what most commands are."""
    from stack.cli import get_settings

    with LiveProgress(show_logs=show_logs) as on_event:
        return job(get_settings(), on_event=on_event, **options)
