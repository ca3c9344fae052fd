"""The jobs: one function per job, the surface every caller shares (a CLI command, an Airflow
task, the agent). Each returns its summary, a dataclass with `to_dict()` (JSON-safe), and none
prints; progress goes to `on_event` (stack.progress), notices to `logging` too.

Errors are StackErrors with an exit code: ConfigError (2: a setting is wrong, retrying will
not help), ServiceError (3: PostgreSQL, Kafka or a warehouse cannot be reached, worth a
retry), StackError (1: the input or the state needs a person). Anything else is a bug.

The pipelines' modules are imported inside each function: `import stack.jobs` stays cheap
(Airflow parses DAG files that name these functions, and must not pay for Kafka or DuckDB).
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from stack.progress import OnEvent, Reporter
from stack.summary import Summary

if TYPE_CHECKING:  # what the lazy names below are, for type checkers and readers
    from stack.realtime.consumer import ConsumeSummary
    from stack.realtime.stream import StreamSummary
    from stack.settings import Settings

log = logging.getLogger(__name__)

# A demo that shows every path without taking long on a laptop: ~20k events, three months of
# statements and a dozen PDFs, a few dead letters.
DEMO_EVENTS = 20_000
DEMO_MONTHS = "2025-01:2025-03"
DEMO_ROWS_PER_MONTH = 2_000
DEMO_PDFS_PER_MONTH = 4
DEMO_BAD_RATIO = 0.01
DEMO_SEED = 7
# The event time of the demo's first event: with the seed, every run sends the same events,
# byte for byte, so a rerun changes nothing (with `now`, the same transaction ids would come
# back with other times: updates that conflict with the stored rows, dead-lettered).
DEMO_START = datetime(2026, 1, 1, tzinfo=UTC)
# How long the consume step waits, once caught up, to be sure nothing more comes: what it
# consumes was produced before it started, so a second is enough.
IDLE_TIMEOUT = 1.0

# --- the jobs, one each -----------------------------------------------------------------------
# Each is the pipeline's own entry point, imported when first used (PEP 562): the same function,
# not a copy of its signature. `stack.jobs.load_warehouse(settings, target=..., on_event=...)`
# is `stack.warehouse.load.load`, and so on.
_LAZY: dict[str, tuple[str, str]] = {
    "start_services": ("stack.services", "start_services"),  # PostgreSQL and Kafka up
    "stop_services": ("stack.services", "stop_services"),  # down; wipe=True deletes the data
    "produce": ("stack.realtime.producer", "produce"),  # synthetic transactions -> Kafka
    "stream": ("stack.realtime.stream", "stream"),  # produce and consume at once, bounded
    "generate_batch": ("stack.batch.generate", "generate"),  # monthly CSVs and PDFs
    "ingest_batch": ("stack.batch.ingest", "ingest"),  # the incoming folder -> PostgreSQL
    "load_warehouse": ("stack.warehouse.load", "load"),  # PostgreSQL -> raw, by watermark
    "transform": ("stack.warehouse.transform", "transform"),  # dbt build; TransformError
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'stack.jobs' has no attribute {name!r}")
    module, attribute = _LAZY[name]
    function = getattr(importlib.import_module(module), attribute)
    globals()[name] = function
    return function


def _job(name: str) -> Callable[..., Any]:
    """A job by name, from inside this module (where `__getattr__` does not apply)."""
    return globals().get(name) or __getattr__(name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


def consume_until_idle(
    settings: Settings,
    *,
    idle_timeout: float = IDLE_TIMEOUT,
    windows: bool = True,
    on_event: OnEvent | None = None,
) -> ConsumeSummary:
    """Consume what waits in Kafka into PostgreSQL (sink, dead letters, window totals) until
    caught up and idle `idle_timeout` seconds (`consume()` bounded: a scheduled task must end).
    Must run in the process's main thread (Quix installs signal handlers)."""
    from stack.realtime.consumer import consume

    return consume(settings, idle_timeout=idle_timeout, windows=windows, on_event=on_event)


# --- jobs of jobs -----------------------------------------------------------------------------
@dataclass
class Step:
    name: str
    seconds: float
    result: str  # one line for people
    summary: Any = None  # the step's own summary


@dataclass
class JobReport(Summary):
    """What a job of several steps did (`stack ingest`, `stack demo`)."""

    job: str
    steps: list[Step] = field(default_factory=list)
    exit_code: int = 0

    derived = ("seconds",)

    @property
    def seconds(self) -> float:
        return round(sum(step.seconds for step in self.steps), 3)


class _Steps:
    """Runs the steps of a JobReport: a `start` event before each, an `item` event (with the
    step's summary as `result`) after each."""

    def __init__(self, job: str, on_event: OnEvent | None) -> None:
        self.report = JobReport(job)
        self.events = Reporter("steps", on_event, log)
        self.on_event = on_event

    def run(
        self,
        name: str,
        work: Callable[[], Any],
        result: Callable[[Any], str],
        *,
        counts: bool = False,
    ) -> Any:
        """`counts`: the step's summary has an exit code, and the report's is the highest."""
        self.events.start(name)
        started = time.monotonic()
        summary = work()
        step = Step(name, time.monotonic() - started, result(summary), summary)
        self.report.steps.append(step)
        self.events.item(name, step.result, result=summary)
        if counts:
            self.report.exit_code = max(self.report.exit_code, summary.exit_code)
        return summary


def ingest(
    settings: Settings, *, idle_timeout: float = IDLE_TIMEOUT, on_event: OnEvent | None = None
) -> JobReport:
    """Batch ingest of the incoming folder, then consume what waits in Kafka until caught up
    and idle. Exit code: the highest of the batch ingest's (1 when files or rows were rejected,
    4 when the stack failed on a file) and the consume's (4 when it failed on a message);
    events dead-lettered for their content are not an error (they are kept in transactions_dlq)."""
    steps = _Steps("ingest", on_event)
    _ingest_steps(steps, settings, idle_timeout)
    return steps.report


def _ingest_steps(steps: _Steps, settings: Settings, idle_timeout: float) -> None:
    _batch_ingest_step(steps, settings)
    steps.run(
        "realtime consume",
        lambda: consume_until_idle(settings, idle_timeout=idle_timeout, on_event=steps.on_event),
        lambda done: f"{done.messages:,} messages; {waited(done)}",
        counts=True,
    )


def _batch_ingest_step(steps: _Steps, settings: Settings) -> None:
    steps.run(
        "batch ingest",
        lambda: _job("ingest_batch")(settings, on_event=steps.on_event),
        lambda done: ", ".join(
            f"{done.count(kind)} {kind}" for kind in ("loaded", "replaced", "skipped", "failed")
        ),
        counts=True,
    )


def streamed_line(summary: StreamSummary) -> str:
    """What a stream did, and what it waited for once the producer was done."""
    consumed = summary.consumed
    line = (
        f"{summary.produced.events:,} events in, {consumed.messages:,} consumed; "
        f"done {summary.after_last_event:.1f} s after the last was written"
    )
    if consumed.windows is not None:
        line += f" ({consumed.waited['windows']:.1f} s of it for the window totals)"
    return line + f"; joined in {consumed.waited['start']:.1f} s, while producing"


def waited(summary: ConsumeSummary) -> str:
    """What a consume waited for, in seconds: the step is mostly waiting when little comes."""
    seconds = summary.waited
    line = f"waited {seconds['start']:.1f} s to join, {seconds['idle']:.1f} s idle"
    if summary.windows is not None:
        line += f", {seconds['windows']:.1f} s for the window totals"
    return line


def demo(
    settings: Settings,
    *,
    events: int = DEMO_EVENTS,
    seed: int = DEMO_SEED,
    on_event: OnEvent | None = None,
) -> JobReport:
    """Services up, then every pipeline once: generate and ingest the monthly files, stream
    events through Kafka into PostgreSQL (produced while consumed), load the warehouse, build
    the dbt project."""
    steps = _Steps("demo", on_event)
    steps.run(
        "services",
        lambda: _job("start_services")(settings, on_event=on_event),
        lambda done: f"{done.backend} backend",
    )
    steps.run(
        "batch generate",
        lambda: _job("generate_batch")(
            settings,
            months=DEMO_MONTHS,
            rows_per_month=DEMO_ROWS_PER_MONTH,
            pdfs_per_month=DEMO_PDFS_PER_MONTH,
            seed=seed,
            on_event=on_event,
        ),
        lambda done: f"{done.files} files",
    )
    _batch_ingest_step(steps, settings)
    steps.run(
        "realtime stream",
        # The same seed each run: the same transactions again, which the sink's upsert absorbs.
        lambda: _job("stream")(
            settings,
            count=events,
            seed=seed,
            start=DEMO_START,
            bad_ratio=DEMO_BAD_RATIO,
            on_event=on_event,
        ),
        streamed_line,
        counts=True,
    )
    steps.run(
        "warehouse load",
        lambda: _job("load_warehouse")(settings, on_event=on_event),
        lambda done: f"{done.rows:,} rows",
    )
    steps.run(
        "dbt build",
        lambda: _job("transform")(settings, on_event=on_event),
        lambda _done: "models built, data tests passed",
    )
    return steps.report
