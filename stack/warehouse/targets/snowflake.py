"""Snowflake: rows go through Parquet files, `PUT` to a temporary stage, `COPY INTO` a transient
staging table, then `MERGE` into <database>.<schema>.<table> on the primary key.

Snowflake cannot hold MERGE and the watermark update in one transaction here (fakesnow, the
test double, fails on MERGE inside BEGIN/COMMIT), and it does not need to: the watermark is
written only after the MERGE has committed, and a rerun after a failure in between copies the
same interval again, which the MERGE absorbs (same primary keys, never an older version over
a newer one).
"""

from __future__ import annotations

import tempfile
import uuid
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from stack.errors import ConfigError, ServiceError, StackError
from stack.settings import Settings
from stack.warehouse.targets.merge import merge_sql
from stack.warehouse.types import TableSpec, duckdb_ident
from stack.warehouse.types import snowflake_ident as q

STATE_TABLE = "_LOAD_STATE"
STAGE = "_STACK_LOAD"
# Snowflake loads Parquet files best at 100-250 MB compressed.
_PARQUET_FILE_SIZE = "128MB"


def check_snowflake_settings(settings: Settings) -> None:
    """A ConfigError naming what the snowflake target lacks."""
    missing = [
        name.upper()
        for name in ("snowflake_account", "snowflake_user")
        if not getattr(settings, name)
    ]
    if settings.snowflake_password is None and settings.snowflake_private_key_path is None:
        missing.append("SNOWFLAKE_PASSWORD or SNOWFLAKE_PRIVATE_KEY_PATH")
    if missing:
        raise ConfigError(
            f"the snowflake target needs {', '.join(missing)} (set them in .env; see .env.example)"
        )


def snowflake_connect(settings: Settings):  # -> snowflake.connector.SnowflakeConnection
    """A connection from the SNOWFLAKE_* settings: password or key pair. Secrets never appear
    in messages."""
    import snowflake.connector

    check_snowflake_settings(settings)
    params: dict[str, object] = {
        "account": settings.snowflake_account,
        "user": settings.snowflake_user,
        "application": "stack",
        "login_timeout": 60,
        "network_timeout": settings.snowflake_timeout_seconds,
    }
    for name in ("role", "warehouse", "host", "port"):
        value = getattr(settings, f"snowflake_{name}")
        if value is not None:
            params[name] = value
    if settings.snowflake_host:
        params["protocol"] = settings.snowflake_protocol
    if settings.snowflake_private_key_path is not None:
        key = settings.snowflake_private_key_path
        if not key.is_file():
            raise ConfigError(f"SNOWFLAKE_PRIVATE_KEY_PATH: no such file {key}")
        params["authenticator"] = "SNOWFLAKE_JWT"
        params["private_key_file"] = str(key)
        if settings.snowflake_private_key_passphrase is not None:
            params["private_key_file_pwd"] = (
                settings.snowflake_private_key_passphrase.get_secret_value()
            )
    else:
        params["password"] = settings.snowflake_password.get_secret_value()
    try:
        return snowflake.connector.connect(**params)
    except snowflake.connector.errors.Error as error:
        detail = (getattr(error, "msg", None) or str(error)).strip().splitlines()[0]
        raise ServiceError(
            f"cannot connect to Snowflake account {settings.snowflake_account} as "
            f"{settings.snowflake_user}: {detail}"
        ) from None
    except (ValueError, TypeError) as error:  # the connector reading the private key file
        if settings.snowflake_private_key_path is None:
            raise
        raise ConfigError(
            f"SNOWFLAKE_PRIVATE_KEY_PATH: cannot read the key in "
            f"{settings.snowflake_private_key_path}: {error} (a PEM private key; is "
            "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE right?)"
        ) from None


class SnowflakeTarget:
    name = "snowflake"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.database = q(settings.snowflake_database)
        self.schema = q(settings.snowflake_schema)
        self.conn = None
        self.cur = None

    def where(self) -> str:
        return (
            f"{self.settings.snowflake_account}: "
            f"{self.settings.snowflake_database}.{self.settings.snowflake_schema}"
        )

    def check_settings(self) -> None:
        check_snowflake_settings(self.settings)

    def check_ready(self, tables: list[str]) -> None:
        # Only the settings: logging in to look would cost a remote round trip that dbt's own
        # first query makes anyway, and dbt names a missing source table itself.
        self.check_settings()

    def status(self) -> dict:
        # Named only: a status check should not log in to a remote warehouse.
        return {
            "target": self.name,
            "account": self.settings.snowflake_account,
            "database": self.settings.snowflake_database,
        }

    def __enter__(self) -> SnowflakeTarget:
        import snowflake.connector

        self.conn = snowflake_connect(self.settings)
        self.cur = self.conn.cursor()
        try:
            try:
                self.cur.execute(f"USE DATABASE {self.database}")
            except snowflake.connector.errors.ProgrammingError:
                self.cur.execute(f"CREATE DATABASE IF NOT EXISTS {self.database}")
                self.cur.execute(f"USE DATABASE {self.database}")
            self.cur.execute(f"CREATE SCHEMA IF NOT EXISTS {self.database}.{self.schema}")
            self.cur.execute(f"USE SCHEMA {self.database}.{self.schema}")
            self.cur.execute(
                f"CREATE TABLE IF NOT EXISTS {STATE_TABLE} (TABLE_NAME VARCHAR NOT NULL, "
                "CURSOR_COLUMN VARCHAR NOT NULL, CURSOR_VALUE TIMESTAMP_TZ NOT NULL, "
                "ROWS NUMBER(38,0) NOT NULL, LOADED_AT TIMESTAMP_TZ NOT NULL)"
            )
            self.cur.execute(f"CREATE OR REPLACE TEMPORARY STAGE {STAGE}")
        except snowflake.connector.errors.Error as error:
            self.__exit__()
            raise _target_error(error, "setting up the raw schema") from None
        return self

    def __exit__(self, *exc: object) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = self.cur = None

    def watermark(self, table: str) -> datetime | None:
        rows = self._run(
            f"SELECT CURSOR_VALUE FROM {STATE_TABLE} WHERE TABLE_NAME = %s", (table,)
        ).fetchall()
        return rows[0][0] if rows else None

    def write(
        self, spec: TableSpec, reader: pa.RecordBatchReader, *, hi: datetime, full_refresh: bool
    ) -> int:
        table = q(spec.name)
        with tempfile.TemporaryDirectory(prefix="stack-load-") as tmp:
            files = Path(tmp) / "parquet"
            rows = _write_parquet(spec, reader, files)
            if full_refresh:
                self._run(f"DELETE FROM {STATE_TABLE} WHERE TABLE_NAME = %s", (spec.name,))
                self._run(f"DROP TABLE IF EXISTS {table}")
            self._ensure_table(spec)
            if rows:
                # A fresh path per load: Snowflake skips files it believes already loaded.
                path = f"@{STAGE}/{spec.name}/{uuid.uuid4().hex}/"
                self._run(f"PUT 'file://{files.as_posix()}/*.parquet' {path} AUTO_COMPRESS=FALSE")
                copy = (
                    f"FROM {path} FILE_FORMAT = (TYPE = PARQUET) "
                    "MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE PURGE = TRUE"
                )
                if not self._run(f"SELECT 1 FROM {table} LIMIT 1").fetchall():
                    self._run(f"COPY INTO {table} {copy}")
                else:
                    stage_table = q(f"_STACK_STAGE_{spec.name}")
                    self._run(f"CREATE OR REPLACE TRANSIENT TABLE {stage_table} LIKE {table}")
                    self._run(f"COPY INTO {stage_table} {copy}")
                    self._run(merge_sql(spec, table=table, source=stage_table, ident=q))
                    self._run(f"DROP TABLE {stage_table}")
        self._run(
            f"MERGE INTO {STATE_TABLE} AS tgt USING (SELECT %s AS TABLE_NAME, %s AS CURSOR_COLUMN, "
            "TO_TIMESTAMP_TZ(%s) AS CURSOR_VALUE, %s AS ROWS) AS src "
            "ON tgt.TABLE_NAME = src.TABLE_NAME "
            "WHEN MATCHED THEN UPDATE SET CURSOR_VALUE = src.CURSOR_VALUE, ROWS = src.ROWS, "
            "LOADED_AT = CURRENT_TIMESTAMP() "
            "WHEN NOT MATCHED THEN INSERT (TABLE_NAME, CURSOR_COLUMN, CURSOR_VALUE, ROWS, "
            "LOADED_AT) VALUES (src.TABLE_NAME, src.CURSOR_COLUMN, src.CURSOR_VALUE, src.ROWS, "
            "CURRENT_TIMESTAMP())",
            (spec.name, spec.cursor, hi.isoformat(), rows),
        )
        return rows

    def _ensure_table(self, spec: TableSpec) -> None:
        """Create the table, or add the columns the source gained since the last load."""
        existing = {
            row[0]
            for row in self._run(
                "SELECT COLUMN_NAME FROM INFORMATION_SCHEMA.COLUMNS "
                "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
                (self.settings.snowflake_schema.upper(), spec.name.upper()),
            ).fetchall()
        }
        table = q(spec.name)
        if not existing:
            body = ", ".join(f"{q(c.name)} {c.snowflake_type}" for c in spec.columns)
            self._run(f"CREATE TABLE IF NOT EXISTS {table} ({body})")
            return
        for column in spec.columns:
            if column.name.upper() not in existing:
                self._run(
                    f"ALTER TABLE {table} ADD COLUMN {q(column.name)} {column.snowflake_type}"
                )

    def _run(self, statement: str, params: tuple | None = None):
        import snowflake.connector

        try:
            return self.cur.execute(statement, params)
        except snowflake.connector.errors.Error as error:
            raise _target_error(error, statement.split(" (")[0][:80]) from None


def _target_error(error: Exception, doing: str) -> StackError:
    detail = (getattr(error, "msg", None) or str(error)).strip().splitlines()[0]
    return ServiceError(f"Snowflake failed while {doing!r}: {detail}")


def _write_parquet(spec: TableSpec, reader: pa.RecordBatchReader, directory: Path) -> int:
    """The stream as Parquet files typed for Snowflake (DuckDB does the casts); row count."""
    local = duckdb.connect()
    try:
        local.register("_stack_extract", reader)
        casts = ", ".join(
            f"CAST({duckdb_ident(c.name)} AS {c.parquet_duckdb_type}) AS {duckdb_ident(c.name)}"
            for c in spec.columns
        )
        return int(
            local.execute(
                f"COPY (SELECT {casts} FROM _stack_extract) TO '{directory.as_posix()}' "
                f"(FORMAT parquet, FILE_SIZE_BYTES '{_PARQUET_FILE_SIZE}')"
            ).fetchall()[0][0]
        )
    finally:
        local.close()
