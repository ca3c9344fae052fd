"""`stack ingest` and `stack demo`: the pipelines end to end (see stack/pipelines.py)."""

from __future__ import annotations

import typer
from rich.table import Table

from stack.cli import app
from stack.console import out
from stack.pipelines import DEMO_EVENTS, DEMO_SEED, RunReport
from stack.settings import get_settings


def _print_steps(report: RunReport, title: str) -> None:
    table = Table(title=title)
    table.add_column("step")
    table.add_column("result")
    table.add_column("s", justify="right")
    for step in report.steps:
        table.add_row(step.name, step.result, f"{step.seconds:.1f}")
    table.add_row("[bold]total", "", f"[bold]{sum(s.seconds for s in report.steps):.1f}")
    out.print(table)


@app.command()
def ingest(
    idle_timeout: float = typer.Option(
        5.0, help="Stop consuming once caught up and idle this many seconds."
    ),
) -> None:
    """Batch ingest of the incoming folder, then consume Kafka until caught up (bounded).

    Exit code: the batch ingest's (0 all loaded or skipped, 1 files or rows rejected)."""
    from stack.pipelines import ingest as run

    report = run(get_settings(), idle_timeout=idle_timeout)
    _print_steps(report, "ingest")
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
    from stack.pipelines import demo as run

    report = run(get_settings(), events=events, seed=seed)
    _print_steps(report, "stack demo")
    out.print('next: `stack status`, `stack preview`, `stack sql "SELECT ..."`, docs/*.md')
    raise typer.Exit(report.exit_code)
