"""The one settings object: every knob of the stack, read from the environment and `.env`.

Each field's environment variable is its name in upper case (`postgres_port` ->
`POSTGRES_PORT`). `.env.example` documents every one of them; keep the two in step
(a test checks it).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from stack.errors import ConfigError
from stack.services import BACKEND_NAMES
from stack.warehouse.targets import TARGET_NAMES

# The repository root when running from a checkout (the usual case: editable install, hatch,
# nix develop, devcontainer), else None; PROJECT_ROOT, where `.env` is read and relative paths
# point, is then the current directory.
_PACKAGE_PARENT = Path(__file__).resolve().parent.parent
CHECKOUT_ROOT = _PACKAGE_PARENT if (_PACKAGE_PARENT / "pyproject.toml").is_file() else None
PROJECT_ROOT = CHECKOUT_ROOT or Path.cwd()

SECRET_FIELDS = (
    "postgres_password",
    "snowflake_password",
    "snowflake_private_key_passphrase",
    "airflow_admin_password",
    "airflow_jwt_secret",
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=PROJECT_ROOT / ".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        validate_default=True,
        env_ignore_empty=True,  # `KAFKA_HOME=` in .env means "not set", not "the current dir"
    )

    # --- services --------------------------------------------------------------------------
    stack_backend: Literal[("auto", *BACKEND_NAMES)] = "auto"  # type: ignore[valid-type]
    stack_home: Path = Path(".stack")
    # The checkout whose dbt/ project `stack transform` runs (empty: this checkout, or the
    # copy installed with the package).
    stack_project_dir: Path | None = None

    postgres_host: str = "localhost"
    postgres_port: int = Field(5432, ge=1, le=65535)
    postgres_user: str = Field("stack", min_length=1)
    postgres_password: SecretStr = SecretStr("stack")
    postgres_db: str = Field("stack", min_length=1)

    # The port the broker serves clients on (the local process listens on it; compose
    # publishes it on the host). Clients bootstrap from KAFKA_BOOTSTRAP_SERVERS, which
    # defaults to localhost:KAFKA_PORT.
    kafka_port: int = Field(9092, ge=1, le=65535)
    kafka_bootstrap_servers: str = ""
    kafka_controller_port: int = Field(9093, ge=1, le=65535)
    kafka_home: Path | None = None

    # --- realtime ----------------------------------------------------------------------------
    transactions_topic: str = "transactions"
    transactions_partitions: int = Field(3, ge=1, le=1000)
    consumer_group: str = "stack-transactions-sink"
    # How far into the future (after its message's Kafka timestamp) an event may be dated;
    # later ones are dead-lettered (future_timestamp) instead of moving the window forward.
    event_clock_skew_seconds: float = Field(3600, ge=0)

    # --- batch -------------------------------------------------------------------------------
    batch_incoming_dir: Path = Path("data/incoming")
    batch_rejected_dir: Path = Path("data/rejected")
    # The bounds on one PDF's work: more pages, or a longer parse, and it is refused
    # (too_many_pages, time_limit) instead of holding up the ingest.
    batch_pdf_max_pages: int = Field(100, ge=1)
    batch_pdf_timeout_seconds: float = Field(60, gt=0)

    # --- warehouse ---------------------------------------------------------------------------
    warehouse_target: Literal[TARGET_NAMES] = "duckdb"  # type: ignore[valid-type]
    warehouse_duckdb_path: Path = Path(".stack/warehouse.duckdb")
    # Only used when pg_stat_activity hides some sessions of the source database (another role,
    # without pg_read_all_stats): loads then stop this many seconds short of "now".
    warehouse_fallback_lag_seconds: float = Field(300, ge=0)

    snowflake_account: str | None = None
    snowflake_user: str | None = None
    snowflake_password: SecretStr | None = None
    snowflake_private_key_path: Path | None = None
    snowflake_private_key_passphrase: SecretStr | None = None
    snowflake_role: str | None = None
    snowflake_warehouse: str | None = None
    snowflake_database: str = "STACK"
    snowflake_schema: str = "RAW"
    # Only for a Snowflake-compatible server other than snowflakecomputing.com (fakesnow).
    snowflake_host: str | None = None
    snowflake_port: int | None = Field(None, ge=1, le=65535)
    snowflake_protocol: Literal["https", "http"] = "https"
    # The longest one Snowflake statement of `stack load` may take; it also ends the connector's
    # retries when the server keeps failing (otherwise it retries for ever).
    snowflake_timeout_seconds: int = Field(3600, ge=1)

    # --- agent (`stack ask`, the `agent` extra) ------------------------------------------------
    # The chat model, as init_chat_model reads it ("ollama:qwen2.5-coder:7b", "openai:gpt-4.1",
    # "anthropic:claude-sonnet-4-5"); empty: the offline planner, no model.
    agent_model: str = ""
    # The model server's URL when it is not the provider's default (a local Ollama, a proxy).
    agent_base_url: str | None = None
    agent_row_limit: int = Field(200, ge=1, le=100_000)
    agent_timeout_seconds: float = Field(30, gt=0)
    # Plans tried per question: a query the guard refuses or the database fails is fed back.
    agent_max_attempts: int = Field(3, ge=1, le=10)
    # Snowflake: the SELECT-only role the agent's session uses (stack/agent/readonly_role.sql).
    agent_snowflake_role: str | None = None

    # --- airflow -----------------------------------------------------------------------------
    # Airflow is started by `stack up --airflow` (or always, with STACK_AIRFLOW=true).
    stack_airflow: bool = False
    airflow_port: int = Field(8080, ge=1, le=65535)
    airflow_db: str = Field("airflow", min_length=1)  # its metadata database, on POSTGRES_*
    airflow_admin_user: str = Field("admin", min_length=1)
    airflow_admin_password: SecretStr = SecretStr("admin")
    # Signs the tokens Airflow's components hand each other: one value for all of them.
    airflow_jwt_secret: SecretStr = SecretStr("stack-local-airflow-jwt-secret")
    # The airflow env's `airflow` executable; empty: found with `hatch env find airflow`.
    airflow_executable: Path | None = None
    # Sized for a 2-core laptop (Airflow's defaults start 32 workers and time out at 5 s).
    airflow_parallelism: int = Field(4, ge=1)
    airflow_execution_api_timeout: int = Field(60, ge=1)
    airflow_api_workers: int = Field(1, ge=1)
    # compose only: the user Airflow's containers run as (on Linux: your `id -u`, so they can
    # write the mounted checkout's .stack/)
    airflow_uid: int = Field(50000, ge=0)

    @field_validator("kafka_bootstrap_servers")
    @classmethod
    def _check_bootstrap(cls, value: str, info: ValidationInfo) -> str:
        if not value.strip():
            return f"localhost:{info.data.get('kafka_port', 9092)}"
        for server in value.split(","):
            host, sep, port = server.strip().rpartition(":")
            if not sep or not host or not port.isdigit():
                raise ValueError(f"expected host:port[,host:port...], got {value!r}")
        return value

    @field_validator(
        "stack_home",
        "stack_project_dir",
        "warehouse_duckdb_path",
        "batch_incoming_dir",
        "batch_rejected_dir",
    )
    @classmethod
    def _anchor_to_project(cls, value: Path | None) -> Path | None:
        # Relative paths are relative to the project, not to wherever the command runs.
        return value if value is None or value.is_absolute() else (PROJECT_ROOT / value)

    # --- derived -----------------------------------------------------------------------------
    @property
    def quix_state_dir(self) -> Path:
        """Where the window-totals Application keeps its state (RocksDB), for every backend:
        `stack down --wipe` deletes it with the services' data."""
        return self.stack_home / "quix-state"

    def postgres_conninfo(self, dbname: str | None = None) -> str:
        """A libpq connection string (psycopg 3, psycopg2, ADBC). Holds the password: never log."""
        from psycopg.conninfo import make_conninfo

        return make_conninfo(
            host=self.postgres_host,
            port=self.postgres_port,
            user=self.postgres_user,
            password=self.postgres_password.get_secret_value(),
            dbname=dbname or self.postgres_db,
            connect_timeout=5,
        )

    def postgres_url(self, driver: str = "postgresql+psycopg") -> str:
        """A SQLAlchemy URL (holds the password: never log)."""
        from sqlalchemy import URL

        return URL.create(
            driver,
            username=self.postgres_user,
            password=self.postgres_password.get_secret_value(),
            host=self.postgres_host,
            port=self.postgres_port,
            database=self.postgres_db,
        ).render_as_string(hide_password=False)

    def as_env(self) -> dict[str, str]:
        """Every setting as environment variables, secrets included: for child processes only."""
        env: dict[str, str] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if value is None:
                continue
            env[name.upper()] = (
                value.get_secret_value() if isinstance(value, SecretStr) else str(value)
            )
        return env

    def masked(self) -> dict[str, str]:
        """Every setting as text, secrets masked: what `stack config` prints."""
        shown: dict[str, str] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if name in SECRET_FIELDS:
                shown[name.upper()] = "" if value is None else "********"
            else:
                shown[name.upper()] = "" if value is None else str(value)
        return shown


def describe_validation_error(error: ValidationError) -> str:
    """One line per bad variable: which one, what is wrong, never the secret value."""
    lines = []
    for item in error.errors():
        variable = ".".join(str(part) for part in item["loc"]).upper() or "settings"
        lines.append(f"{variable}: {item['msg']}")
    return "; ".join(lines)


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment and `.env`; a user error (not a traceback) when invalid."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        raise ConfigError(
            f"invalid setting: {describe_validation_error(error)} "
            f"(set it in {PROJECT_ROOT / '.env'} or the environment; see .env.example)"
        ) from None


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, loaded once (the CLI's entry point)."""
    return load_settings()
