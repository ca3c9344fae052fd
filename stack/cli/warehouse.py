"""`stack load`, `stack transform`, `stack preview`: the warehouse, over stack.warehouse."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from pathlib import Path

import typer
from rich.table import Table

from stack.cli import app, get_settings
from stack.cli.console import err, out, print_json
from stack.warehouse.targets import TARGET_NAMES

TargetChoice = StrEnum("TargetChoice", {name: name for name in TARGET_NAMES})


@app.command()
def load(
    target: TargetChoice | None = typer.Option(
        None, "--target", "-t", help="Warehouse to load (default: WAREHOUSE_TARGET)."
    ),
    tables: list[str] | None = typer.Option(
        None, "--tables", help="Source tables to load (repeat or comma-separate; default: all)."
    ),
    full_refresh: bool = typer.Option(
        False, "--full-refresh", help="Drop and reload the selected tables from scratch."
    ),
    json_: bool = typer.Option(False, "--json", help="Print the summary as one JSON object."),
) -> None:
    """Copy rows new or changed in PostgreSQL since the last load into the warehouse's raw
    schema, merged on each table's primary key."""
    from stack.cli.progress import run_job
    from stack.cli.summaries import print_load
    from stack.jobs import load_warehouse

    summary = run_job(
        load_warehouse,
        target=target.value if target else None,
        tables=tables,
        full_refresh=full_refresh,
    )
    if json_:
        print_json(summary.to_dict())
    else:
        print_load(summary)


@app.command()
def transform(
    target: TargetChoice | None = typer.Option(
        None, "--target", "-t", help="Warehouse to build (default: WAREHOUSE_TARGET)."
    ),
    select: str | None = typer.Option(
        None, "--select", "-s", help="dbt node selection (default: everything)."
    ),
    full_refresh: bool = typer.Option(
        False, "--full-refresh", help="Rebuild incremental models from scratch."
    ),
    docs: bool = typer.Option(False, "--docs", help="Then `dbt docs generate` (dbt/target)."),
    json_: bool = typer.Option(False, "--json", help="Print the summary as one JSON object."),
) -> None:
    """Run `dbt build` (seeds, models, data tests) of dbt/ on the warehouse; print a summary."""
    from stack.cli.progress import run_job
    from stack.jobs import transform as run
    from stack.warehouse.transform import TransformError

    try:
        summary = run_job(
            run,
            show_logs=True,
            target=target.value if target else None,
            select=select,
            full_refresh=full_refresh,
            docs=docs,
        )
    except TransformError as error:
        _print_transform(error.summary, json_)
        raise
    _print_transform(summary, json_)


def _print_transform(summary, json_: bool) -> None:
    from stack.cli.summaries import print_transform

    if json_:
        print_json(summary.to_dict())
    else:
        print_transform(summary)


@app.command()
def preview(
    days: float = typer.Option(7, "--days", help="How far back, by each table's event time."),
    tables: list[str] | None = typer.Option(
        None, "--table", "--tables", help="Tables to pull (repeat or comma-separate; default: all)."
    ),
    query: str | None = typer.Option(
        None, "--sql", help="A query to run on the window (tables by their source names)."
    ),
    out_file: Path | None = typer.Option(
        None, "--out", help="Save --sql's result, or the one --table's window, as .parquet or .csv."
    ),
    database: Path | None = typer.Option(
        None, "--db", help="Keep the window in this DuckDB file (default: in memory)."
    ),
    limit: int = typer.Option(50, "--limit", min=1, help="Rows of --sql's result to print."),
) -> None:
    """Pull the last days of the PostgreSQL tables into DuckDB and summarise them: rows,
    spend by category, top merchants, dead letters and rejects."""
    from stack.errors import StackError
    from stack.warehouse.preview import output_format, pull_window, run_query, save, summaries

    settings = get_settings()
    if out_file is not None:
        output_format(out_file)  # a wrong suffix fails before the pull, not after
    with err.status("pulling the window from PostgreSQL"):
        window = pull_window(settings, days=days, tables=tables, database=database)
    with window:
        if window.missing:
            err.print(f"not in PostgreSQL yet: {', '.join(window.missing)}")
        if query is None:
            for summary in summaries(window):
                out.print(_rich_table(summary.title, summary.columns, summary.rows))
        else:
            result = run_query(window, query, limit=limit)
            out.print(_rich_table(None, result.columns, result.rows))
        if out_file is not None:
            if query is None and len(window.rows) != 1:
                raise StackError(
                    "--out saves the result of --sql, or the window of a single "
                    "--table: give one of them"
                )
            saved = save(window, query or f'SELECT * FROM "{next(iter(window.rows))}"', out_file)
            err.print(f"wrote {saved:,} rows to {out_file}")
        if database is not None:
            err.print(f"the window is in {database} (tables named as in PostgreSQL)")


def _rich_table(title: str | None, columns: list[str], rows: list[tuple]) -> Table:
    """Numbers right-aligned with thousands separators, NULL as empty."""
    numeric = [
        bool(rows)
        and all(
            isinstance(row[i], int | float | Decimal) and not isinstance(row[i], bool)
            for row in rows
            if row[i] is not None
        )
        for i in range(len(columns))
    ]
    table = Table(title=title)
    for column, is_number in zip(columns, numeric, strict=True):
        table.add_column(column, justify="right" if is_number else "left")
    for row in rows:
        table.add_row(
            *(
                "" if value is None else f"{value:,}" if is_number else str(value)
                for value, is_number in zip(row, numeric, strict=True)
            )
        )
    return table
