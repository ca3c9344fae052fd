"""`stack produce / consume / stream`: the realtime pipeline (see docs/realtime.md)."""

from __future__ import annotations

from datetime import datetime

import typer

from stack.cli import app
from stack.cli.console import print_json


def _finish(summary, json_: bool) -> None:
    from stack.cli.summaries import print_summary

    if json_:
        print_json(summary.to_dict())
    else:
        print_summary(summary)
    code = getattr(summary, "exit_code", 0)  # consume: 4 when the stack failed on a message
    if code:
        raise typer.Exit(code)


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

    from stack.cli.progress import run_job
    from stack.jobs import produce as run

    if start is not None and start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    summary = run_job(
        run,
        count=count,
        rate=rate,
        duration=duration,
        seed=seed,
        bad_ratio=bad_ratio,
        update_ratio=update_ratio,
        start=start,
        partitions=partitions,
    )
    _finish(summary, json_)


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
    from stack.cli.progress import run_job
    from stack.realtime.consumer import consume as run

    summary = run_job(
        run,
        idle_timeout=idle_timeout,
        max_messages=max_messages,
        windows=windows,
        commit_interval=commit_interval,
    )
    _finish(summary, json_)


@app.command()
def stream(
    count: int = typer.Option(10_000, "--count", "-n", help="Events to produce."),
    rate: float = typer.Option(0, help="Events per second; 0 = as fast as possible."),
    seed: int | None = typer.Option(None, help="Same seed: same events."),
    bad_ratio: float = typer.Option(0.01, help="Share of malformed events."),
    lead: int | None = typer.Option(
        None,
        help="The most events the producer may run ahead of the slowest consumer (default: "
        "a fraction of a second of their pace on a laptop; 0 = no limit).",
    ),
    idle_timeout: float = typer.Option(
        0.0,
        help="Once the producer is done and everything is consumed, idle this many seconds more "
        "(for other producers of the topic).",
    ),
    windows: bool = typer.Option(True, help="Also run the per-merchant minute totals."),
    json_: bool = typer.Option(False, "--json", help="Print both summaries as one JSON object."),
) -> None:
    """Produce and consume at once (a bounded demo); ends by itself with a summary."""
    from stack.cli.progress import run_job
    from stack.realtime.stream import stream as run

    summary = run_job(
        run,
        count=count,
        rate=rate,
        seed=seed,
        bad_ratio=bad_ratio,
        **({} if lead is None else {"lead": lead or None}),
        idle_timeout=idle_timeout,
        windows=windows,
    )
    _finish(summary, json_)
