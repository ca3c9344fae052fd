"""What every Airflow process of the stack is given: its home, its configuration (sized for a
2-core laptop), its connections, and the stack's own settings (the tasks read them)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from stack.errors import ConfigError
from stack.settings import PROJECT_ROOT, Settings

DAGS_FOLDER = PROJECT_ROOT / "airflow" / "dags"
# The connection ids the tasks read (stack.orchestration.tasks), set from the settings.
POSTGRES_CONN_ID = "stack_postgres"
SNOWFLAKE_CONN_ID = "stack_snowflake"


def airflow_home(settings: Settings) -> Path:
    return settings.stack_home / "airflow"


def find_airflow(settings: Settings) -> Path:
    """The airflow env's `airflow` executable: AIRFLOW_EXECUTABLE, else hatch's `airflow` env."""
    if settings.airflow_executable is not None:
        if not settings.airflow_executable.is_file():
            raise ConfigError(
                f"AIRFLOW_EXECUTABLE={settings.airflow_executable} does not exist: point it at "
                "the airflow env's bin/airflow, or leave it empty to use `hatch env find airflow`"
            )
        return settings.airflow_executable
    hatch = shutil.which("hatch")
    found = None
    if hatch is not None:
        result = subprocess.run(
            [hatch, "env", "find", "airflow"],
            capture_output=True,
            text=True,
            cwd=PROJECT_ROOT,
            timeout=60,
            check=False,
        )
        found = Path(result.stdout.strip()) / "bin" / "airflow" if result.returncode == 0 else None
    if found is None or not found.is_file():
        raise ConfigError(
            "Airflow is not installed: run `just airflow-env` (hatch's `airflow` env, from "
            "pylock.airflow.toml), or set AIRFLOW_EXECUTABLE to an `airflow` executable"
        )
    return found


def check_stack_installed(airflow: Path) -> None:
    """Airflow's tasks import `stack`: its env must have it installed, not only on a path."""
    python = airflow.with_name("python")
    if not python.is_file():
        return  # an `airflow` of another layout: its tasks will say so if `stack` is missing
    result = subprocess.run(
        [str(python), "-c", "import stack"], capture_output=True, cwd="/", timeout=60, check=False
    )
    if result.returncode != 0:
        raise ConfigError(
            f"the stack is not installed in Airflow's env ({python}): run `just airflow-env`"
        )


def postgres_connection(settings: Settings) -> dict:
    """The stack's PostgreSQL as an Airflow connection (JSON form of AIRFLOW_CONN_*)."""
    return {
        "conn_type": "postgres",
        "host": settings.postgres_host,
        "port": settings.postgres_port,
        "login": settings.postgres_user,
        "password": settings.postgres_password.get_secret_value(),
        "schema": settings.postgres_db,
    }


def snowflake_connection(settings: Settings) -> dict | None:
    """The configured Snowflake account as an Airflow connection; None when there is none."""
    if not settings.snowflake_account:
        return None
    extra = {
        "account": settings.snowflake_account,
        "warehouse": settings.snowflake_warehouse,
        "database": settings.snowflake_database,
        "role": settings.snowflake_role,
        "host": settings.snowflake_host,
        "port": settings.snowflake_port,
        "protocol": settings.snowflake_protocol,
    }
    return {
        "conn_type": "snowflake",
        "login": settings.snowflake_user,
        "password": (
            settings.snowflake_password.get_secret_value() if settings.snowflake_password else None
        ),
        "schema": settings.snowflake_schema,
        "extra": {key: value for key, value in extra.items() if value is not None},
    }


def connection_env(settings: Settings) -> dict[str, str]:
    """AIRFLOW_CONN_* for the stack's connections (never written to a file)."""
    env = {f"AIRFLOW_CONN_{POSTGRES_CONN_ID.upper()}": json.dumps(postgres_connection(settings))}
    snowflake = snowflake_connection(settings)
    if snowflake is not None:
        env[f"AIRFLOW_CONN_{SNOWFLAKE_CONN_ID.upper()}"] = json.dumps(snowflake)
    return env


def metadata_url(settings: Settings) -> str:
    from sqlalchemy import URL

    return URL.create(
        "postgresql+psycopg2",
        username=settings.postgres_user,
        password=settings.postgres_password.get_secret_value(),
        host=settings.postgres_host,
        port=settings.postgres_port,
        database=settings.airflow_db,
    ).render_as_string(hide_password=False)


def base_url(settings: Settings) -> str:
    return f"http://localhost:{settings.airflow_port}"


def airflow_env(settings: Settings) -> dict[str, str]:
    """Environment variables for Airflow's processes (secrets included: child processes only)."""
    home = airflow_home(settings)
    return {
        **settings.as_env(),
        **connection_env(settings),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": str(settings.airflow_parallelism),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{settings.airflow_admin_user}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords_file(settings)),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url(settings),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(settings.airflow_port),
        # also where task workers reach the execution API ({base_url}/execution/)
        "AIRFLOW__API__BASE_URL": base_url(settings),
        "AIRFLOW__API__WORKERS": str(settings.airflow_api_workers),
        "AIRFLOW__API_AUTH__JWT_SECRET": settings.airflow_jwt_secret.get_secret_value(),
        "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": str(settings.airflow_execution_api_timeout),
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        # the scheduler's and triggerer's log servers: next to the API's port, not 8793/8794,
        # so two stacks on one machine do not collide
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(settings.airflow_port + 1),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(settings.airflow_port + 2),
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
    }


def passwords_file(settings: Settings) -> Path:
    return airflow_home(settings) / "passwords.json"


def write_passwords_file(settings: Settings) -> None:
    """The admin's password for Airflow's simple auth manager, from the settings (mode 600)."""
    path = passwords_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    password = settings.airflow_admin_password.get_secret_value()
    path.write_text(json.dumps({settings.airflow_admin_user: password}) + "\n")
