"""Where the project's files are: the dbt project above all, wherever `stack` runs.

From a checkout (editable install, hatch, nix develop, the devcontainer) they are the
checkout's; a pip-installed `stack` (an Airflow image, say) carries a copy of dbt/ as package
data (stack/_project/dbt, see pyproject.toml); STACK_PROJECT_DIR overrides both.
"""

from __future__ import annotations

from pathlib import Path

from stack.errors import ConfigError
from stack.settings import CHECKOUT_ROOT, Settings

PACKAGED = Path(__file__).resolve().parent / "_project"


def project_dir(settings: Settings) -> Path:
    """The directory that holds dbt/: STACK_PROJECT_DIR, else the checkout, else the copy
    installed with the package."""
    if settings.stack_project_dir is not None:
        chosen = settings.stack_project_dir
        if not (chosen / "dbt" / "dbt_project.yml").is_file():
            raise ConfigError(
                f"STACK_PROJECT_DIR={chosen} has no dbt/dbt_project.yml: point it at a "
                "checkout of the stack repository (or unset it)"
            )
        return chosen
    for candidate in (CHECKOUT_ROOT, PACKAGED):
        if candidate is not None and (candidate / "dbt" / "dbt_project.yml").is_file():
            return candidate
    raise ConfigError(
        "cannot find the dbt project (dbt/dbt_project.yml): this `stack` is neither a "
        "checkout nor an install that carries it; set STACK_PROJECT_DIR to a checkout of "
        "the stack repository"
    )


def dbt_dir(settings: Settings) -> Path:
    return project_dir(settings) / "dbt"


def dbt_target_dir(settings: Settings) -> Path:
    """Where dbt writes (manifest, run results, logs, docs): dbt/target in a checkout, as
    dbt users expect; under STACK_HOME for the installed copy (site-packages is no place to
    write)."""
    directory = dbt_dir(settings)
    if directory.is_relative_to(PACKAGED):
        return settings.stack_home / "dbt-target"
    return directory / "target"
