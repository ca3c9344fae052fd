"""`stack produce / consume / stream`: the realtime pipeline (see docs/realtime.md)."""

from __future__ import annotations

import time
from datetime import datetime

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from stack.cli import app
from stack.console import err, print_json
from stack.realtime.report import consumed_line, produced_line
from stack.settings import get_settings


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )


class _Rate:
    def __init__(self) -> None:
        self.began = time.monotonic()

    def __call__(self, done: int) -> str:
        seconds = time.monotonic() - self.began
        return f"{done / seconds:,.0f}/s" if seconds > 0 else ""


def _notice(text: str) -> None:
    err.print(f"[yellow]{text}[/]", highlight=False, soft_wrap=True)


@app.command()
def produce(
    count: int | None = typer.Option(
        None, "--count", "-n", help="Events to send (default 10000 unless --duration is given)."
    ),
    rate: float = typer.Option(0, help="Events per second; 0 = as fast as possible."),
    duration: float | None = typer.Option(None, help="Stop after this many seconds."),
    seed: int | None = typer.Option(None, help="Same seed (and --start): same events."),
    bad_ratio: float = typer.Option(
        0.0,
        help="Share of malformed events (each of a different kind in turn), for demos and tests.",
    ),
    update_ratio: float = typer.Option(
        0.10, help="Share of events that update an earlier transaction (a higher version)."
    ),
    start: datetime | None = typer.Option(
        None, help="Event time of the first event (ISO 8601, default now; naive means UTC)."
    ),
    partitions: int | None = typer.Option(
        None, help="Partitions of the topic if it is created (default TRANSACTIONS_PARTITIONS)."
    ),
    json_: bool = typer.Option(False, "--json", help="Print the summary as one JSON object."),
) -> None:
    """Send synthetic transactions (Faker) to Kafka, keyed by transaction_id."""
    from datetime import UTC

    from stack.realtime.producer import DEFAULT_COUNT
    from stack.realtime.producer import produce as run

    settings = get_settings()
    if start is not None and start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    total = count if count is not None else (None if duration else DEFAULT_COUNT)
    rate_text = _Rate()
    with _progress() as progress:
        task = progress.add_task(
            f"producing to {settings.transactions_topic}", total=total, rate=""
        )
        summary = run(
            settings,
            count=count,
            rate=rate,
            duration=duration,
            seed=seed,
            bad_ratio=bad_ratio,
            update_ratio=update_ratio,
            start=start,
            partitions=partitions,
            on_progress=lambda n: progress.update(task, completed=n, rate=rate_text(n)),
        )
    if json_:
        print_json(summary)
    else:
        err.print(produced_line(summary), highlight=False, soft_wrap=True)


@app.command()
def consume(
    max_messages: int | None = typer.Option(None, help="Stop after this many messages."),
    idle_timeout: float | None = typer.Option(
        None, help="Stop (exit 0) once caught up and idle this many seconds."
    ),
    windows: bool = typer.Option(
        True, help="Also run the per-merchant minute totals (a second process)."
    ),
    commit_interval: float = typer.Option(
        1.0, help="Seconds between checkpoints (a PostgreSQL commit, then a Kafka offset commit)."
    ),
    json_: bool = typer.Option(False, "--json", help="Print the summary as one JSON object."),
) -> None:
    """Consume transactions into PostgreSQL (sink + dead-letter table + window totals).

    Stops on SIGTERM/SIGINT after committing the current checkpoint.
    """
    from stack.realtime.consumer import consume as run

    settings = get_settings()
    rate_text = _Rate()
    with _progress() as progress:
        task = progress.add_task(f"consuming {settings.transactions_topic}", total=None, rate="")

        def committed(_checkpoint, totals) -> None:
            progress.update(task, completed=totals.messages, rate=rate_text(totals.messages))

        summary = run(
            settings,
            idle_timeout=idle_timeout,
            max_messages=max_messages,
            windows=windows,
            commit_interval=commit_interval,
            on_committed=committed,
            on_notice=_notice,
        )
    if json_:
        print_json(summary)
    else:
        err.print(consumed_line(summary), highlight=False, soft_wrap=True)


@app.command()
def stream(
    count: int = typer.Option(10_000, "--count", "-n", help="Events to produce."),
    rate: float = typer.Option(0, help="Events per second; 0 = as fast as possible."),
    seed: int | None = typer.Option(None, help="Same seed: same events."),
    bad_ratio: float = typer.Option(0.01, help="Share of malformed events."),
    idle_timeout: float = typer.Option(
        3.0, help="Stop once everything is consumed and idle this many seconds."
    ),
    windows: bool = typer.Option(True, help="Also run the per-merchant minute totals."),
    json_: bool = typer.Option(False, "--json", help="Print both summaries as one JSON object."),
) -> None:
    """Produce and consume at once (a bounded demo); ends by itself with a summary."""
    from stack.realtime.stream import stream as run

    settings = get_settings()
    with _progress() as progress:
        produced = progress.add_task("produced ", total=count, rate="")
        consumed = progress.add_task("committed", total=count, rate="")
        produce_rate, consume_rate = _Rate(), _Rate()
        summary = run(
            settings,
            count=count,
            rate=rate,
            seed=seed,
            bad_ratio=bad_ratio,
            idle_timeout=idle_timeout,
            windows=windows,
            on_notice=_notice,
            on_produced=lambda n: progress.update(produced, completed=n, rate=produce_rate(n)),
            on_committed=lambda _c, totals: progress.update(
                consumed, completed=totals.messages, rate=consume_rate(totals.messages)
            ),
        )
    if json_:
        print_json(summary)
    else:
        err.print(produced_line(summary["produced"]), highlight=False, soft_wrap=True)
        err.print(consumed_line(summary["consumed"]), highlight=False, soft_wrap=True)
