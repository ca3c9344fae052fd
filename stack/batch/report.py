"""The short human summaries of `generate` and `ingest` (on stderr; `--json` prints data)."""

from __future__ import annotations

from stack.batch.generate import GenerateSummary
from stack.batch.ingest import IngestSummary
from stack.console import err

_SHOWN = 12  # rejected rows and failed files listed by name; the rest are counted


def print_generate(summary: GenerateSummary) -> None:
    months = summary.months
    span = months[0] if len(months) == 1 else f"{months[0]}..{months[-1]}"
    err.print(
        f"generated {summary.files} files ({summary.bytes / 1e6:.1f} MB) for {span} into "
        f"{summary.out_dir} in {summary.seconds:.1f} s: {summary.transactions} transactions in "
        f"{summary.csv_files} CSVs, {summary.statements} statements and {summary.invoices} "
        f"invoices ({summary.line_items} line items)"
        + (f", {len(summary.bad_files)} known-bad files" if summary.bad_files else ""),
        highlight=False,
        soft_wrap=True,
    )


def print_ingest(summary: IngestSummary) -> None:
    data = summary.to_dict()
    files = data["files"]
    err.print(
        f"ingest {summary.incoming_dir}: {files['loaded']} loaded, {files['replaced']} replaced, "
        f"{files['skipped']} skipped, {files['failed']} failed in {summary.seconds:.1f} s",
        highlight=False,
        soft_wrap=True,
    )
    err.print(
        f"  rows: {summary.transactions} transactions, {summary.documents} documents "
        f"({summary.pages} pages, {summary.line_items} line items), "
        f"{data['rows_per_second']} rows/s",
        highlight=False,
        soft_wrap=True,
    )
    if summary.rejected_rows:
        by_reason = ", ".join(f"{k} {v}" for k, v in data["rejects_by_reason"].items())
        err.print(
            f"  [yellow]rejected rows: {summary.rejected_rows}[/] ({by_reason}); "
            "all in table ingest_rejects",
            highlight=False,
            soft_wrap=True,
        )
        for reject in summary.rejects[:_SHOWN]:
            where = f"{reject['file']}:{reject['line']}"
            fld = f" {reject['field']}" if reject["field"] else ""
            err.print(
                f"    {where}{fld}: {reject['reason']}: {reject['detail']}",
                highlight=False,
                soft_wrap=True,
                markup=False,
            )
        if summary.rejected_rows > _SHOWN:
            err.print(f"    ... and {summary.rejected_rows - _SHOWN} more", highlight=False)
    failed = [f for f in summary.files if f.outcome == "failed"]
    if failed:
        err.print(
            f"  [red]failed files: {len(failed)}[/], moved to {summary.rejected_dir} "
            "with a .reason.txt each:",
            highlight=False,
            soft_wrap=True,
        )
        for result in failed[:_SHOWN]:
            err.print(
                f"    {result.path}: {result.reason}: {result.detail}",
                highlight=False,
                soft_wrap=True,
                markup=False,
            )
        if len(failed) > _SHOWN:
            err.print(
                f"    ... and {len(failed) - _SHOWN} more (table ingest_files)", highlight=False
            )
