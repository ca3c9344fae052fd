"""`stack airflow ...`: Airflow's lifecycle on its own, trigger a DAG and wait for its run,
list the DAGs, the UI's address. Thin shells over stack.orchestration."""

from __future__ import annotations

import json
import webbrowser

import typer
from rich.table import Table

from stack.cli import app, get_settings
from stack.cli.console import err, out, print_json
from stack.errors import ConfigError

airflow_app = typer.Typer(
    help="Airflow: run a DAG and wait for it, list DAGs, open the UI.", no_args_is_help=True
)
app.add_typer(airflow_app, name="airflow")


def _backend() -> str:
    from stack.services import resolve_backend_name

    return resolve_backend_name(get_settings())


@airflow_app.command("up")
def up() -> None:
    """Start Airflow (the services must be up: `stack up`)."""
    from stack.orchestration.lifecycle import start_airflow

    err.print(f"  airflow: {start_airflow(get_settings(), _backend())}")


@airflow_app.command("init")
def init() -> None:
    """Create and migrate Airflow's metadata database, write the admin's password (what
    `stack airflow up` does first; compose's airflow-init service runs it)."""
    from stack.orchestration.environment import find_airflow
    from stack.orchestration.local import LocalAirflow

    settings = get_settings()
    err.print(f"  airflow: {LocalAirflow(settings).prepare(find_airflow(settings))}")


@airflow_app.command("down")
def down() -> None:
    """Stop Airflow, leaving the services running."""
    from stack.orchestration.lifecycle import stop_airflow

    err.print(f"  airflow: {stop_airflow(get_settings(), _backend()) or 'not running'}")


@airflow_app.command("run")
def run(
    dag_id: str = typer.Argument(..., help="The DAG to run (`stack airflow dags` lists them)."),
    conf: str | None = typer.Option(
        None, "--conf", help='The run\'s conf as JSON, e.g. \'{"target": "snowflake"}\'.'
    ),
    timeout: float = typer.Option(3600, help="Seconds to wait for the run to finish."),
    json_: bool = typer.Option(False, "--json", help="Print the run's result as JSON."),
) -> None:
    """Trigger DAG_ID through Airflow's REST API and wait for its run; exit 1 unless it
    succeeds."""
    from stack.orchestration.client import TaskResult, run_dag

    try:
        parsed = json.loads(conf) if conf else None
    except json.JSONDecodeError as error:
        raise ConfigError(f"--conf is not JSON: {error}") from None
    if parsed is not None and not isinstance(parsed, dict):
        raise ConfigError("--conf must be a JSON object")

    def show(task: TaskResult) -> None:
        tries = f" (try {task.try_number})" if task.try_number > 1 else ""
        err.print(f"  {task.task_id}: {task.state or 'waiting'}{tries}")

    err.print(f"triggering [bold]{dag_id}[/]")
    result = run_dag(get_settings(), dag_id, conf=parsed, timeout=timeout, on_task=show)
    if json_:
        print_json(result.to_dict())
    colour = "green" if result.state == "success" else "red"
    err.print(
        f"{dag_id} run {result.run_id}: [{colour}]{result.state}[/] in {result.seconds:.1f} s"
    )
    err.print(f"  {result.url}", highlight=False)
    raise typer.Exit(result.exit_code)


@airflow_app.command("dags")
def dags(json_: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """The DAGs Airflow knows, with their schedule and last run."""
    from stack.orchestration.client import list_dags

    listed = list_dags(get_settings())
    if json_:
        print_json(listed.to_dict())
        return
    table = Table("dag", "paused", "schedule", "last run", "state")
    for dag in listed.dags:
        table.add_row(
            dag.dag_id,
            "yes" if dag.paused else "no",
            dag.schedule or "",
            dag.last_run_after or "",
            dag.last_run_state or "",
        )
    out.print(table)


@airflow_app.command("ui")
def ui(
    open_: bool = typer.Option(False, "--open", help="Also open it in a browser."),
) -> None:
    """Print the UI's address (and who to log in as)."""
    from stack.orchestration.environment import base_url

    settings = get_settings()
    address = base_url(settings)
    print(address)
    err.print(f"log in as {settings.airflow_admin_user} (password: AIRFLOW_ADMIN_PASSWORD in .env)")
    if open_:
        webbrowser.open(address)
