"""`stack ingest` and `stack demo`: the pipelines end to end (see stack/jobs.py)."""

from __future__ import annotations

import typer

from stack.cli import app
from stack.cli.console import out
from stack.jobs import DEMO_EVENTS, DEMO_SEED, IDLE_TIMEOUT


@app.command()
def ingest(
    idle_timeout: float = typer.Option(
        IDLE_TIMEOUT, help="Stop consuming once caught up and idle this many seconds."
    ),
) -> None:
    """Batch ingest of the incoming folder, then consume Kafka until caught up (bounded).

    Exit code: the batch ingest's (0 all loaded or skipped, 1 files or rows rejected)."""
    from stack.cli.progress import run_job
    from stack.cli.summaries import print_steps
    from stack.jobs import ingest as run

    report = run_job(run, idle_timeout=idle_timeout)
    print_steps(report, "ingest")
    raise typer.Exit(report.exit_code)


@app.command()
def demo(
    events: int = typer.Option(DEMO_EVENTS, help="Transactions events to stream."),
    seed: int = typer.Option(
        DEMO_SEED, help="Seed of the events and files (same seed: same data)."
    ),
) -> None:
    """The end-to-end job: services up, stream events into PostgreSQL, generate and ingest
    monthly files, load the warehouse, run dbt; then a summary of every step."""
    from stack.cli.progress import run_job
    from stack.cli.summaries import print_steps, print_transform
    from stack.jobs import demo as run
    from stack.warehouse.transform import TransformError

    try:
        report = run_job(run, events=events, seed=seed)
    except TransformError as error:
        print_transform(error.summary)
        raise
    print_steps(report, "stack demo")
    out.print('next: `stack status`, `stack preview`, `stack sql "SELECT ..."`, docs/*.md')
    raise typer.Exit(report.exit_code)
