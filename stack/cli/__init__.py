"""The `stack` command. Each module here is a thin shell over functions in the package."""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING

import typer

from stack.cli.console import err
from stack.errors import StackError

if TYPE_CHECKING:
    from stack.settings import Settings

app = typer.Typer(
    name="stack",
    help="A reproducible local data platform: PostgreSQL, Kafka, pipelines, warehouse.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def get_settings() -> Settings:
    """The process's settings, loaded when a command first needs them: `stack --help` does
    not pay for pydantic."""
    from stack.settings import get_settings as load

    return load()


# The command modules, in the order `stack --help` lists them; each decorates `app`.
COMMAND_MODULES = ("services", "realtime", "batch", "warehouse", "pipelines", "agent", "airflow")


def _register() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(f"stack.cli.{name}")


def main() -> None:
    """Console-script entry point: user errors become one red line and a non-zero exit."""
    _register()
    try:
        # standalone_mode=False hands back typer.Exit codes instead of calling sys.exit itself
        code = app(standalone_mode=False)
    except StackError as error:
        err.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
        sys.exit(error.exit_code)
    except typer.Abort:
        err.print("aborted")
        sys.exit(130)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except typer.Exit as exit_:
        sys.exit(exit_.exit_code)
    except typer.TyperException as error:
        # Usage errors (an unknown command or option, a value of the wrong type) carry their
        # own message and exit code (2). Typer vendors click since 0.26: these are not
        # `click.ClickException`s, so catch typer's own root.
        error.show()
        sys.exit(error.exit_code)
    sys.exit(code if isinstance(code, int) else 0)
