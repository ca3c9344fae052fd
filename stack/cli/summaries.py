"""The short human summaries each command ends with (stderr; tables on stdout). `--json`
prints the summary's `to_dict()` instead. Types are only named here: importing this module
imports no pipeline."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from rich.table import Table

from stack.cli.console import err, out

if TYPE_CHECKING:
    from stack.batch.generate import GenerateSummary
    from stack.batch.ingest import IngestSummary
    from stack.jobs import JobReport
    from stack.realtime.consumer import ConsumeSummary
    from stack.realtime.producer import ProduceSummary
    from stack.realtime.stream import StreamSummary
    from stack.services import ServicesReport
    from stack.warehouse.load import LoadSummary
    from stack.warehouse.transform import TransformSummary

_SHOWN = 12  # rejected rows and failed files listed by name; the rest are counted


def _line(text: str, **options: Any) -> None:
    err.print(text, highlight=False, soft_wrap=True, **options)


# --- services ---------------------------------------------------------------------------------
def print_services(summary: ServicesReport) -> None:
    pass  # each service's line was shown as it happened (stack.cli.progress)


# --- realtime ---------------------------------------------------------------------------------
def produced_line(summary: ProduceSummary) -> str:
    kinds = ", ".join(f"{k} {v}" for k, v in summary.malformed_kinds.items())
    return (
        f"produced {summary.events:,} events in {summary.seconds:.1f} s "
        f"({summary.events_per_s:,}/s) to {summary.topic} "
        f"({summary.partitions} partitions): {summary.unique_transactions:,} new "
        f"transactions, {summary.updates:,} updates, {summary.malformed:,} malformed"
        f"{f' ({kinds})' if kinds else ''}; seed {summary.seed}"
        f"{' (interrupted)' if summary.interrupted else ''}"
    )


def consumed_line(summary: ConsumeSummary) -> str:
    reasons = ", ".join(f"{k} {v}" for k, v in summary.reasons.items())
    line = (
        f"consumed {summary.messages:,} messages in {summary.seconds:.1f} s "
        f"({summary.messages_per_s:,}/s): {summary.valid:,} valid, "
        f"{summary.dead_lettered:,} dead-lettered{f' ({reasons})' if reasons else ''}; "
        f"transactions_sink holds {_count(summary.sink_rows)} rows, transactions_dlq "
        f"{_count(summary.dlq_rows)} (stopped: {summary.stopped_by})"
    )
    windows = summary.windows
    if windows is not None:
        line += (
            f"\nwindow totals: {windows.messages:,} messages, "
            f"{windows.window_updates:,} row updates, {windows.late_events} late events"
        )
    waited = summary.waited
    if waited:
        line += (
            f"\nwaited {waited['start']:.1f} s to start and join the group, "
            f"{waited['idle']:.1f} s after the last commit to be sure nothing more came"
            + (
                f", {waited['windows']:.1f} s for the window totals to catch up (they took "
                f"{summary.windows.waited.get('start', 0):.1f} s to start and were idle "
                f"{summary.windows.waited.get('idle', 0):.1f} s at the end)"
                if summary.windows
                else ""
            )
        )
    return line


def _count(rows: int | None) -> str:
    return "?" if rows is None else f"{rows:,}"


def print_produce(summary: ProduceSummary) -> None:
    _line(produced_line(summary))


def print_consume(summary: ConsumeSummary) -> None:
    _line(consumed_line(summary))


def print_stream(summary: StreamSummary) -> None:
    print_produce(summary.produced)
    print_consume(summary.consumed)
    _line(f"  consumed {summary.after_last_event:.1f} s after the last event was written")


# --- batch ------------------------------------------------------------------------------------
def print_generate(summary: GenerateSummary) -> None:
    months = summary.months
    span = months[0] if len(months) == 1 else f"{months[0]}..{months[-1]}"
    _line(
        f"generated {summary.files} files ({summary.bytes / 1e6:.1f} MB) for {span} into "
        f"{summary.out_dir} in {summary.seconds:.1f} s: {summary.transactions} transactions in "
        f"{summary.csv_files} CSVs, {summary.statements} statements and {summary.invoices} "
        f"invoices ({summary.line_items} line items)"
        + (f", {len(summary.bad_files)} known-bad files" if summary.bad_files else "")
    )


def print_ingest(summary: IngestSummary) -> None:
    data = summary.to_dict()
    files = data["files"]
    errors = f", [bold red]{files['error']} internal errors[/]" if files["error"] else ""
    _line(
        f"ingest {summary.incoming_dir}: {files['loaded']} loaded, {files['replaced']} replaced, "
        f"{files['skipped']} skipped, {files['failed']} failed{errors} in {summary.seconds:.1f} s"
    )
    _line(
        f"  rows: {summary.transactions} transactions, {summary.documents} documents "
        f"({summary.pages} pages, {summary.line_items} line items), "
        f"{data['rows_per_second']} rows/s"
    )
    if summary.rejected_rows:
        by_reason = ", ".join(f"{k} {v}" for k, v in data["rejects_by_reason"].items())
        _line(
            f"  [yellow]rejected rows: {summary.rejected_rows}[/] ({by_reason}); "
            "all in table ingest_rejects"
        )
        for reject in summary.rejects[:_SHOWN]:
            where = f"{reject['file']}:{reject['line']}"
            fld = f" {reject['field']}" if reject["field"] else ""
            _line(f"    {where}{fld}: {reject['reason']}: {reject['detail']}", markup=False)
        if summary.rejected_rows > _SHOWN:
            _line(f"    ... and {summary.rejected_rows - _SHOWN} more")
    failed = [f for f in summary.files if f.outcome == "failed"]
    if failed:
        _line(
            f"  [red]failed files: {len(failed)}[/], moved to {summary.rejected_dir} "
            "with a .reason.txt each:"
        )
        for result in failed[:_SHOWN]:
            _line(f"    {result.path}: {result.reason}: {result.detail}", markup=False)
        if len(failed) > _SHOWN:
            _line(f"    ... and {len(failed) - _SHOWN} more (table ingest_files)")
    crashed = [f for f in summary.files if f.outcome == "error"]
    if crashed:
        _line(
            f"  [bold red]internal errors: {len(crashed)}[/] (a bug in the stack, not in the "
            f"files: they stay in place; tracebacks in {summary.crash_log}):"
        )
        for result in crashed[:_SHOWN]:
            _line(f"    {result.path}: {result.detail}", markup=False)
        if len(crashed) > _SHOWN:
            _line(f"    ... and {len(crashed) - _SHOWN} more (table ingest_files)")


# --- warehouse --------------------------------------------------------------------------------
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
    line = f"{summary.rows:,} rows in {summary.seconds:.2f} s ({summary.rows_per_second:,} rows/s)"
    if summary.created:
        line += f"; created empty (no pipeline had written them yet): {', '.join(summary.created)}"
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
    _line(line)


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
        _line(f"[red]{failure.status}[/]: {failure.name}: {failure.message or ''}")
    state = "[green]passed[/]" if summary.success else "[red]failed[/]"
    _line(f"dbt build {state} in {summary.seconds:.1f} s")


# --- jobs of jobs -----------------------------------------------------------------------------
def print_steps(report: JobReport, title: str) -> None:
    table = Table(title=title)
    table.add_column("step")
    table.add_column("result")
    table.add_column("s", justify="right")
    for step in report.steps:
        table.add_row(step.name, step.result, f"{step.seconds:.1f}")
    table.add_row("[bold]total", "", f"[bold]{report.seconds:.1f}")
    out.print(table)


# Each summary type's printer, by class name (so no pipeline module is imported to look it up).
PRINTERS = {
    "ServicesReport": print_services,
    "ProduceSummary": print_produce,
    "ConsumeSummary": print_consume,
    "StreamSummary": print_stream,
    "GenerateSummary": print_generate,
    "IngestSummary": print_ingest,
    "LoadSummary": print_load,
    "TransformSummary": print_transform,
}


def print_summary(summary: Any) -> None:
    PRINTERS[type(summary).__name__](summary)
