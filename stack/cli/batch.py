"""`stack batch generate|ingest`: monthly CSV statements and PDF documents -> PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import typer

from stack.cli import app
from stack.cli.console import print_json

batch = typer.Typer(
    name="batch",
    help="Monthly CSV statements and PDF documents -> PostgreSQL (idempotent).",
    no_args_is_help=True,
)
app.add_typer(batch)


@batch.command()
def generate(
    months: str = typer.Option(
        "2025-01:2025-06", help="YYYY-MM, a range YYYY-MM:YYYY-MM, or a comma list."
    ),
    rows_per_month: int = typer.Option(2000, help="Transactions in each month's CSV."),
    pdfs_per_month: int = typer.Option(
        6, help="PDFs per month: statements and invoices, alternating."
    ),
    seed: int = typer.Option(42, help="Same seed, same bytes."),
    out: Path | None = typer.Option(
        None, help="Where to write (default BATCH_INCOMING_DIR, data/incoming)."
    ),
    with_bad: bool = typer.Option(
        False,
        "--with-bad",
        help="Also write known-bad files and a CSV with bad rows into the first month.",
    ),
    json_: bool = typer.Option(False, "--json", help="Print the summary as one JSON object."),
) -> None:
    """Write synthetic monthly files: transactions CSVs, account statements, invoices."""
    from stack.cli.progress import run_job
    from stack.cli.summaries import print_generate
    from stack.jobs import generate_batch

    summary = run_job(
        generate_batch,
        out_dir=out,
        months=months,
        rows_per_month=rows_per_month,
        pdfs_per_month=pdfs_per_month,
        seed=seed,
        with_bad=with_bad,
    )
    if json_:
        print_json(summary.to_dict())
    else:
        print_generate(summary)


@batch.command()
def ingest(
    dir_: Path | None = typer.Option(
        None, "--dir", help="The incoming directory (default BATCH_INCOMING_DIR, data/incoming)."
    ),
    rejected_dir: Path | None = typer.Option(
        None, help="Where refused files go (default BATCH_REJECTED_DIR, data/rejected)."
    ),
    workers: int | None = typer.Option(
        None, min=1, help="PDF parsing processes (default: one per CPU)."
    ),
    json_: bool = typer.Option(False, "--json", help="Print the summary as one JSON object."),
) -> None:
    """Load new and changed files into PostgreSQL; quarantine what cannot load.

    Exit codes: 0 every file loaded or skipped; 1 some file failed or some row was rejected
    (the rest loaded); 2 usage or configuration error; 3 PostgreSQL unreachable; 4 the stack
    failed on some file (an internal error: the other files were processed; the traceback is
    in STACK_HOME/logs/batch-ingest.log).
    """
    from stack.cli.progress import run_job
    from stack.cli.summaries import print_ingest
    from stack.jobs import ingest_batch

    summary = run_job(
        ingest_batch,
        incoming_dir=dir_,
        rejected_dir=rejected_dir,
        workers=workers,
    )
    if json_:
        print_json(summary.to_dict())
    print_ingest(summary)
    raise typer.Exit(summary.exit_code)
