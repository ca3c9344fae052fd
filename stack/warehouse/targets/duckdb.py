"""The embedded warehouse: one DuckDB file (WAREHOUSE_DUCKDB_PATH), schema `raw`, one
transaction per table.

Each table's data and its watermark in `raw._load_state` commit together, so a load that dies
half way (process killed, disk full) leaves every table either fully loaded up to its new
watermark or untouched at its old one.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from stack.errors import ConfigError, StackError
from stack.settings import Settings
from stack.warehouse.targets.merge import merge_sql
from stack.warehouse.types import TableSpec
from stack.warehouse.types import duckdb_ident as q

RAW_SCHEMA = "raw"
STATE_TABLE = "_load_state"
_STATE = f"{RAW_SCHEMA}.{STATE_TABLE}"
_STATE_DDL = f"""
CREATE SCHEMA IF NOT EXISTS {RAW_SCHEMA};
CREATE TABLE IF NOT EXISTS {_STATE} (
    table_name    VARCHAR PRIMARY KEY,
    cursor_column VARCHAR NOT NULL,
    cursor_value  TIMESTAMP WITH TIME ZONE NOT NULL,  -- every source row version below it is here
    rows          BIGINT NOT NULL,                    -- rows copied by the last load
    loaded_at     TIMESTAMP WITH TIME ZONE NOT NULL
);
"""


def describe_open_error(detail: str) -> str:
    """What keeps the warehouse file from opening, and what to do, from DuckDB's message."""
    if "Conflicting lock" in detail or "Could not set lock" in detail:
        holder = detail.split("Conflicting lock is held in", 1)[-1].split(". See also")[0]
        return (
            f"another process holds it ({holder.strip()}): another `stack load`, "
            "`stack transform` or DuckDB client; wait for it or close it"
        )
    return (
        f"{detail.removeprefix('IO Error: ')} (make the file and its directory writable, or "
        "set WAREHOUSE_DUCKDB_PATH to a path that can be)"
    )


def open_duckdb(path: Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """The warehouse file; one clear line when it cannot be opened: held by another process
    (exit 1), or a path that cannot hold it (a ConfigError naming WAREHOUSE_DUCKDB_PATH)."""
    try:
        if not read_only:
            path.parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(path), read_only=read_only)
    except OSError as error:  # the directory cannot be made: under a file, /proc, no rights
        raise ConfigError(
            f"WAREHOUSE_DUCKDB_PATH={path}: cannot create {path.parent}: "
            f"{error.strerror or error} (choose a path in a writable directory)"
        ) from None
    except duckdb.IOException as error:
        detail = str(error).strip().splitlines()[0]
        problem = describe_open_error(detail)
        if problem.startswith("another process"):
            raise StackError(f"cannot open the DuckDB warehouse {path}: {problem}") from None
        raise ConfigError(
            f"WAREHOUSE_DUCKDB_PATH={path}: cannot open the DuckDB warehouse: {problem}"
        ) from None
    con.execute("SET TimeZone = 'UTC'")
    return con


def cast_select(spec: TableSpec, source: str) -> str:
    """SELECT of `source`'s columns (as the extractor sends them) cast to their warehouse
    types: what the loader and `stack preview` both write."""
    casts = ", ".join(f"CAST({q(c.name)} AS {c.duckdb_type}) AS {q(c.name)}" for c in spec.columns)
    return f"SELECT {casts} FROM {source}"


class DuckDBTarget:
    name = "duckdb"

    def __init__(self, settings: Settings) -> None:
        self.path = settings.warehouse_duckdb_path
        self.con: duckdb.DuckDBPyConnection | None = None

    def where(self) -> str:
        return str(self.path)

    def check_settings(self) -> None:
        pass  # WAREHOUSE_DUCKDB_PATH always has a value

    def _tables(self, con: duckdb.DuckDBPyConnection) -> set[str]:
        return {
            f"{schema}.{name}"
            for schema, name in con.execute(
                "SELECT schema_name, table_name FROM duckdb_tables()"
            ).fetchall()
        }

    def check_ready(self, tables: list[str]) -> None:
        if not self.path.exists():
            raise StackError(f"no warehouse at {self.path} yet: run `stack load` first")
        con = open_duckdb(self.path, read_only=True)
        try:
            present = self._tables(con)
        except duckdb.Error as error:
            raise StackError(f"cannot read {self.path}: {str(error).splitlines()[0]}") from None
        finally:
            con.close()
        missing = [name for name in tables if f"{RAW_SCHEMA}.{name}" not in present]
        if missing:
            raise StackError(
                f"the warehouse has no {RAW_SCHEMA}.{f', {RAW_SCHEMA}.'.join(missing)} yet: "
                "run `stack load` first"
            )

    def status(self) -> dict | None:
        if not self.path.exists():
            return None  # nothing loaded yet
        try:
            con = duckdb.connect(str(self.path), read_only=True)
        except duckdb.IOException:  # a load or a dbt build holds the file right now
            return {"target": self.name, "path": str(self.path), "state": "busy"}
        try:
            tables = self._tables(con)
            tables_loaded, watermark, last_load = (None, None, None)
            if _STATE in tables:
                tables_loaded, watermark, last_load = con.execute(
                    f"SELECT count(*), min(cursor_value), max(loaded_at) FROM {_STATE}"
                ).fetchall()[0]
            transactions = None
            if "marts.fct_transactions" in tables:
                (transactions,) = con.execute(
                    "SELECT count(*) FROM marts.fct_transactions"
                ).fetchall()[0]
        finally:
            con.close()
        return {
            "target": self.name,
            "path": str(self.path),
            "tables_loaded": tables_loaded or 0,
            "watermark": watermark.isoformat(timespec="seconds") if watermark else None,
            "last_load": last_load.isoformat(timespec="seconds") if last_load else None,
            "fct_transactions": transactions,
        }

    def __enter__(self) -> DuckDBTarget:
        self.con = open_duckdb(self.path)
        self.con.execute(_STATE_DDL)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.con is not None:
            self.con.close()
            self.con = None

    def watermark(self, table: str) -> datetime | None:
        rows = self.con.execute(
            f"SELECT cursor_value FROM {_STATE} WHERE table_name = ?", [table]
        ).fetchall()
        return rows[0][0] if rows else None

    def write(
        self, spec: TableSpec, reader: pa.RecordBatchReader, *, hi: datetime, full_refresh: bool
    ) -> int:
        """Merge the stream into raw.<table> and set its watermark to `hi`, atomically."""
        con = self.con
        table = f"{RAW_SCHEMA}.{q(spec.name)}"
        con.execute("BEGIN TRANSACTION")
        try:
            if full_refresh:
                con.execute(f"DROP TABLE IF EXISTS {table}")
                con.execute(f"DELETE FROM {_STATE} WHERE table_name = ?", [spec.name])
            self._ensure_table(spec)
            con.register("_stack_extract", reader)
            columns = ", ".join(q(name) for name in spec.column_names)
            typed = cast_select(spec, "_stack_extract")
            if not con.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchall():
                # Empty target (first load, full refresh): nothing to merge with.
                rows = con.execute(f"INSERT INTO {table} ({columns}) {typed}").fetchall()[0][0]
            else:
                con.execute(f"CREATE OR REPLACE TEMP TABLE _stack_batch AS {typed}")
                rows = con.execute("SELECT count(*) FROM _stack_batch").fetchall()[0][0]
                if rows:
                    con.execute(merge_sql(spec, table=table, source="_stack_batch", ident=q))
                con.execute("DROP TABLE _stack_batch")
            con.unregister("_stack_extract")
            con.execute(
                f"INSERT OR REPLACE INTO {_STATE} VALUES (?, ?, ?, ?, current_timestamp)",
                [spec.name, spec.cursor, hi, rows],
            )
            con.execute("COMMIT")
        except BaseException:
            # A failed write (a full disk) can end the transaction itself: then the rollback
            # fails too, and its error must not replace the real one.
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")
            raise
        return int(rows)

    def _ensure_table(self, spec: TableSpec) -> None:
        """Create raw.<table>, or add the columns the source gained since the last load."""
        existing = dict(
            self.con.execute(
                "SELECT column_name, data_type FROM duckdb_columns() "
                "WHERE schema_name = ? AND table_name = ?",
                [RAW_SCHEMA, spec.name],
            ).fetchall()
        )
        table = f"{RAW_SCHEMA}.{q(spec.name)}"
        if not existing:
            body = ", ".join(f"{q(c.name)} {c.duckdb_type}" for c in spec.columns)
            self.con.execute(f"CREATE TABLE {table} ({body})")
            return
        for column in spec.columns:
            found = existing.get(column.name)
            if found is None:
                self.con.execute(
                    f"ALTER TABLE {table} ADD COLUMN {q(column.name)} {column.duckdb_type}"
                )
            elif found != column.duckdb_type:
                raise StackError(
                    f"column {spec.name}.{column.name} is {column.pg_type} in PostgreSQL "
                    f"({column.duckdb_type}) but {found} in the warehouse: reload the table "
                    f"with `stack load --full-refresh --tables {spec.name}`"
                )
