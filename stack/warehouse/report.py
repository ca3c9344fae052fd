"""The human summaries of `load` and `transform` (tables on stdout, lines on stderr)."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.table import Table

from stack.console import err, out
from stack.warehouse.load import LoadSummary
from stack.warehouse.transform import TransformSummary


def _when(value: datetime | None) -> str:
    """A watermark for people: UTC time to the millisecond, with the date unless it is today."""
    if value is None:
        return "-"
    value = value.astimezone(UTC)
    shown = value.strftime("%H:%M:%S.%f")[:-3]
    return shown if value.date() == datetime.now(UTC).date() else f"{value:%Y-%m-%d} {shown}"


def print_load(summary: LoadSummary) -> None:
    table = Table(
        title=f"load -> {summary.target} ({summary.where})",
        caption="watermarks in UTC; --json for every detail",
    )
    table.add_column("table", no_wrap=True)
    table.add_column("rows", justify="right")
    table.add_column("s", justify="right")
    table.add_column("watermark before -> after", no_wrap=True)
    for item in summary.tables:
        rows = "missing" if item.status == "missing" else f"{item.rows:,}"
        moved = f"{_when(item.watermark_before)} -> {_when(item.watermark_after)}"
        table.add_row(
            item.table, rows, f"{item.seconds:.2f}", moved if item.status != "missing" else ""
        )
    out.print(table)
    line = (
        f"{summary.rows:,} rows in {summary.seconds:.2f} s ({summary.rows_per_second:,.0f} rows/s)"
    )
    if summary.held_back_to is not None:
        line += (
            f"; rows written after {_when(summary.upper_bound)} wait for the next load "
            "(a transaction was still open)"
        )
    if summary.unseen_sessions:
        line += (
            f"; {summary.unseen_sessions} session(s) of other roles were not visible: "
            "the load stopped WAREHOUSE_FALLBACK_LAG_SECONDS short of now"
        )
    err.print(line)


def print_transform(summary: TransformSummary) -> None:
    table = Table(title=f"dbt {summary.command} on {summary.target}")
    table.add_column("resource")
    table.add_column("result")
    table.add_column("count", justify="right")
    for kind, statuses in sorted(summary.counts.items()):
        for status, count in sorted(statuses.items()):
            table.add_row(kind, status, f"{count:,}")
    out.print(table)
    for failure in summary.failures:
        err.print(
            f"[red]{failure.status}[/]: {failure.name}: {failure.message or ''}", highlight=False
        )
    state = "[green]passed[/]" if summary.success else "[red]failed[/]"
    err.print(f"dbt build {state} in {summary.seconds:.1f} s")
