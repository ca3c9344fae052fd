"""The pipelines end to end: `stack ingest` (what `just ingest` runs) and `stack demo` (the
README's first command). Each step is a function of its own package; this module only
chains them and prints their summaries."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from stack.console import err
from stack.settings import Settings

# A demo that shows every path without taking long on a laptop: ~20k events, three months of
# statements and a dozen PDFs, a few dead letters.
DEMO_EVENTS = 20_000
DEMO_MONTHS = "2025-01:2025-03"
DEMO_ROWS_PER_MONTH = 2_000
DEMO_PDFS_PER_MONTH = 4
DEMO_BAD_RATIO = 0.01
DEMO_SEED = 7


@dataclass
class Step:
    name: str
    seconds: float
    result: str


@dataclass
class RunReport:
    steps: list[Step] = field(default_factory=list)
    exit_code: int = 0

    def timed(self, name: str):
        return _Timed(self, name)


class _Timed:
    def __init__(self, report: RunReport, name: str) -> None:
        self.report, self.name, self.result = report, name, "ok"

    def __enter__(self) -> _Timed:
        err.rule(f"[bold]{self.name}")
        self.started = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.report.steps.append(Step(self.name, time.monotonic() - self.started, self.result))


def ingest(settings: Settings, *, report: RunReport | None = None, idle_timeout: float = 5.0):
    """Batch ingest of the incoming folder, then consume what waits in Kafka until caught up
    and idle `idle_timeout` seconds. Exit code: the batch ingest's (1 when files or rows were
    rejected); dead-lettered events are not an error (they are kept in transactions_dlq)."""
    from stack.batch.ingest import ingest as ingest_batch
    from stack.batch.report import print_ingest
    from stack.realtime.consumer import consume
    from stack.realtime.report import consumed_line

    report = report or RunReport()
    with report.timed("batch ingest") as step:
        batch = ingest_batch(settings)
        print_ingest(batch)
        files = batch.to_dict()["files"]
        step.result = ", ".join(
            f"{files[kind]} {kind}" for kind in ("loaded", "replaced", "skipped", "failed")
        )
        report.exit_code = max(report.exit_code, batch.exit_code)
    with report.timed("realtime consume") as step:
        consumed = consume(settings, idle_timeout=idle_timeout)
        err.print(consumed_line(consumed), highlight=False, soft_wrap=True)
        step.result = f"{consumed['messages']:,} messages"
    return report


def demo(settings: Settings, *, events: int = DEMO_EVENTS, seed: int = DEMO_SEED) -> RunReport:
    """Services up, then every pipeline once: stream events through Kafka into PostgreSQL,
    generate and ingest the monthly files, load the warehouse, build the dbt project."""
    from stack.batch.generate import generate
    from stack.batch.report import print_generate
    from stack.realtime.producer import produce
    from stack.realtime.report import produced_line
    from stack.services import start_services
    from stack.warehouse.load import load
    from stack.warehouse.report import print_load, print_transform
    from stack.warehouse.transform import TransformError, transform

    report = RunReport()
    with report.timed("services") as step:
        backend = start_services(
            settings, on_started=lambda name, what: err.print(f"  {name}: {what}")
        )
        step.result = f"{backend.name} backend"
    with report.timed("realtime produce") as step:
        # The same seed each run: the same transactions again, which the sink's upsert absorbs.
        produced = produce(settings, count=events, seed=seed, bad_ratio=DEMO_BAD_RATIO)
        err.print(produced_line(produced), highlight=False, soft_wrap=True)
        step.result = f"{produced['events']:,} events"
    with report.timed("batch generate") as step:
        generated = generate(
            settings,
            months=DEMO_MONTHS,
            rows_per_month=DEMO_ROWS_PER_MONTH,
            pdfs_per_month=DEMO_PDFS_PER_MONTH,
            seed=seed,
        )
        print_generate(generated)
        step.result = f"{generated.files} files"
    ingest(settings, report=report)
    with report.timed("warehouse load") as step:
        loaded = load(settings)
        print_load(loaded)
        step.result = f"{loaded.rows:,} rows"
    with report.timed("dbt build") as step:
        try:
            built = transform(settings)
        except TransformError as error:
            print_transform(error.summary)
            raise
        print_transform(built)
        step.result = "models built, data tests passed"
    return report
