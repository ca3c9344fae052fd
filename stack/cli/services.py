"""`stack up/down/status/logs/sql/config`: the services, whichever backend runs them."""

from __future__ import annotations

from enum import StrEnum

import typer
from rich.table import Table

from stack.cli import app, get_settings
from stack.cli.console import err, out, print_json
from stack.services import BACKEND_NAMES, SERVICE_NAMES

BackendChoice = StrEnum("BackendChoice", {name: name for name in BACKEND_NAMES})
ServiceChoice = StrEnum("ServiceChoice", {name: name for name in SERVICE_NAMES})


@app.command()
def up(
    backend: BackendChoice | None = typer.Option(
        None,
        help="Where to run the services (default: STACK_BACKEND, else the one `stack up` "
        "started, else docker when an engine answers, else local).",
    ),
    airflow: bool = typer.Option(
        False, "--airflow", help="Also start Airflow (always, with STACK_AIRFLOW=true)."
    ),
) -> None:
    """Start PostgreSQL and Kafka (idempotent: says so when they are already up)."""
    from stack.cli.progress import run_job
    from stack.jobs import start_services

    settings = get_settings()
    run_job(start_services, requested=backend.value if backend else None, airflow=airflow)
    err.print(
        f"postgres {settings.postgres_host}:{settings.postgres_port}, "
        f"kafka {settings.kafka_bootstrap_servers}",
        highlight=False,
    )


@app.command()
def down(
    wipe: bool = typer.Option(
        False, "--wipe", help="Also delete all data (volumes, STACK_HOME data)."
    ),
) -> None:
    """Stop the services; with --wipe, delete their data too (after saying what)."""
    from stack.cli.progress import run_job
    from stack.jobs import stop_services

    run_job(stop_services, wipe=wipe)


@app.command()
def status(json_: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """Each service: up or down, version, address (and what the pipelines hold)."""
    from stack.status import collect_status

    report = collect_status(get_settings())
    if json_:
        print_json(report)
    else:
        table = Table(title=f"stack ({report['backend']} backend)")
        for column in ("service", "state", "version", "address", "detail"):
            table.add_column(column)
        for name, service in report["services"].items():
            state = "[green]up[/]" if service["healthy"] else "[red]down[/]"
            table.add_row(
                name, state, service["version"] or "", service["address"], service["detail"]
            )
        out.print(table)
        for section, data in report["pipelines"].items():
            out.print(f"[bold]{section}[/]: " + ", ".join(f"{k}={v}" for k, v in data.items()))
    if not report["healthy"]:
        raise typer.Exit(1)


@app.command()
def logs(
    service: ServiceChoice | None = typer.Argument(None, help="One service (default: all)."),
    follow: bool = typer.Option(False, "-f", "--follow", help="Keep printing new lines."),
) -> None:
    """Show the services' logs."""
    from stack.services import get_backend

    code = get_backend(get_settings()).logs(service.value if service else None, follow)
    raise typer.Exit(code)


@app.command()
def sql(
    query: str = typer.Argument(..., help="One SQL statement."),
    json_: bool = typer.Option(False, "--json", help="Print {columns, rows, rowcount, status}."),
) -> None:
    """Run a statement against the project's PostgreSQL database and print the rows."""
    from stack.db import run_sql

    result = run_sql(get_settings(), query)
    if json_:
        print_json(result)
        return
    if result["columns"]:
        table = Table(*result["columns"])
        for row in result["rows"]:
            table.add_row(*("" if value is None else str(value) for value in row.values()))
        out.print(table)
    err.print(result["status"])


@app.command()
def config(json_: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """Print the effective settings (secrets masked)."""
    shown = get_settings().masked()
    if json_:
        print_json(shown)
        return
    table = Table("variable", "value")
    for name, value in shown.items():
        table.add_row(name, value)
    out.print(table)
