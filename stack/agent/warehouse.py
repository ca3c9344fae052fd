"""The agent's read-only view of the warehouse, and the one place it runs SQL.

Read-only is enforced by the database itself (the second line of defence after the SQL guard,
stack/agent/guard.py):

- DuckDB: the agent never queries the warehouse file. DuckDB allows one writer and a writer
  excludes every reader, so a query that held the file would make a concurrent `stack load`
  fail, and a load would make `stack ask` wait. Instead the agent queries a snapshot
  (`STACK_HOME/agent/snapshot.duckdb`): the schemas it may see (`AGENT_SCHEMAS`), copied when
  the warehouse file changed, in one short read-only attach; views become tables. Queries open
  the snapshot `read_only` with `enable_external_access = false` (no files, no ATTACH, no
  extensions) and the configuration locked. While a load or a dbt build holds the warehouse,
  the agent answers from the snapshot it has and says so; without one, it says to wait.
- Snowflake: the agent's own session, with the role `AGENT_SNOWFLAKE_ROLE` (a SELECT-only
  role: stack/agent/readonly_role.sql creates it) and a statement timeout.

Every query also has a row limit (the guard adds it) and a timeout (`AGENT_TIMEOUT_SECONDS`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Protocol

from stack.errors import StackError
from stack.settings import Settings

log = logging.getLogger(__name__)

# What the agent may read: dbt's schemas (raw is the loader's, internal). Written once here.
AGENT_SCHEMAS = ("staging", "intermediate", "marts", "seeds")
# Inside the snapshot only: the documents' text, for the index (not in the catalog).
_PRIVATE_SCHEMA = "_agent"
_LOCKED = ("Could not set lock", "Conflicting lock", "lock on file")


class WarehouseBusy(StackError):
    """A load or dbt build holds the DuckDB file and there is no snapshot to answer from."""


class QueryFailed(StackError):
    """The database refused or failed a statement (the message is fed back to the planner)."""


@dataclass(frozen=True)
class Catalog:
    """Tables and columns the agent may use: {(schema, table): {column: type}}, lower case."""

    dialect: str  # sqlglot's: duckdb | snowflake
    tables: dict[tuple[str, str], dict[str, str]]

    def sqlglot_schema(self) -> dict[str, dict[str, dict[str, str]]]:
        schema: dict[str, dict[str, dict[str, str]]] = {}
        for (db, table), columns in self.tables.items():
            schema.setdefault(db, {})[table] = dict(columns)
        return schema

    def outline(self, only: set[tuple[str, str]] | None = None) -> str:
        """One line per table: `marts.fct_transactions(transaction_key, source, ...)`."""
        return "\n".join(
            f"{db}.{table}({', '.join(columns)})"
            for (db, table), columns in sorted(self.tables.items())
            if only is None or (db, table) in only
        )


@dataclass
class QueryResult:
    sql: str
    columns: list[str]
    rows: list[tuple]
    truncated: bool  # more rows than the limit: only the first `limit` are here
    seconds: float

    def to_dict(self) -> dict:
        return {
            "sql": self.sql,
            "columns": self.columns,
            "rows": [[json_value(v) for v in row] for row in self.rows],
            "row_count": len(self.rows),
            "truncated": self.truncated,
            "seconds": round(self.seconds, 4),
        }


def json_value(value: object) -> object:
    """A cell as JSON: exact decimals as strings, dates as ISO 8601."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return value


class Warehouse(Protocol):
    dialect: str
    where: str
    notices: list[str]

    def catalog(self) -> Catalog: ...

    def run(self, sql: str, *, limit: int, timeout: float) -> QueryResult:
        """Run one statement the guard accepted (it carries the limit + 1 already)."""
        ...

    def document_texts(self) -> list[tuple]:
        """(document_id, file_path, kind, account_id, vendor_name, period_start, period_end,
        issued_on, due_on, currency_code, stated_total, text) of each current document."""
        ...

    def close(self) -> None: ...


_DOCUMENT_COLUMNS = (
    "documents.document_id, documents.file_path, documents.document_kind, documents.account_id, "
    "documents.vendor_name, documents.period_start, documents.period_end, documents.issued_on, "
    "documents.due_on, documents.currency_code, documents.stated_total"
)


def open_warehouse(settings: Settings, target: str | None = None) -> Warehouse:
    name = target or settings.warehouse_target
    if name == "snowflake":
        return SnowflakeWarehouse(settings)
    return DuckDBWarehouse(settings)


# --- DuckDB -----------------------------------------------------------------------------------


def snapshot_dir(settings: Settings) -> Path:
    return settings.stack_home / "agent"


def _is_lock_error(error: Exception) -> bool:
    return any(marker in str(error) for marker in _LOCKED)


def _stamp(path: Path) -> list[int]:
    """What changes when DuckDB commits to the file: its and its WAL's size and mtime."""
    stamp = []
    for candidate in (path, path.with_name(path.name + ".wal")):
        try:
            info = candidate.stat()
            stamp += [info.st_size, info.st_mtime_ns]
        except FileNotFoundError:
            stamp += [0, 0]
    return stamp


@dataclass
class Snapshot:
    path: Path
    taken_at: str
    refreshed: bool  # copied just now
    copy_seconds: float = 0.0
    notices: list[str] = field(default_factory=list)


def refresh_snapshot(settings: Settings, *, force: bool = False) -> Snapshot:
    """The agent's copy of the warehouse, refreshed if the warehouse file changed since."""
    import duckdb

    source = settings.warehouse_duckdb_path
    home = snapshot_dir(settings)
    target = home / "snapshot.duckdb"
    info_file = home / "snapshot.json"
    if not source.exists():
        raise StackError(
            f"no warehouse at {source} yet: run `stack demo` (or `stack load` and "
            "`stack transform`) first"
        )
    info = json.loads(info_file.read_text()) if info_file.exists() and target.exists() else {}
    stamp = _stamp(source)
    if not force and info.get("source") == str(source) and info.get("stamp") == stamp:
        return Snapshot(target, info["taken_at"], refreshed=False)
    home.mkdir(parents=True, exist_ok=True)
    partial = home / f"snapshot.{os.getpid()}.{threading.get_ident()}.partial"
    partial.unlink(missing_ok=True)
    started = time.monotonic()
    con = duckdb.connect(str(partial))
    try:
        # Attached under its own name: dbt's views name their tables with it.
        alias = source.stem
        try:
            con.execute(f"ATTACH {_literal(source)} AS {_ident(alias)} (READ_ONLY)")
        except duckdb.Error as error:
            if not _is_lock_error(error):
                raise StackError(
                    f"cannot read the warehouse {source}: {str(error).splitlines()[0]}"
                ) from None
            if info:
                note = (
                    f"a `stack load` or `stack transform` is writing the warehouse right now: "
                    f"answering from the snapshot taken at {info['taken_at']}"
                )
                log.warning(note)
                return Snapshot(target, info["taken_at"], refreshed=False, notices=[note])
            raise WarehouseBusy(
                f"a `stack load` or `stack transform` is writing the warehouse {source} right "
                "now (DuckDB allows one writer, and the agent has no snapshot yet): ask again "
                "when it has finished"
            ) from None
        try:
            stamp = _stamp(source)  # as of the copy (the attach holds writers off)
            objects = con.execute(
                "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = ? "
                "UNION SELECT schema_name, view_name FROM duckdb_views() "
                "WHERE database_name = ? AND NOT internal",
                [alias, alias],
            ).fetchall()
            for schema, table in sorted(objects):
                if schema not in AGENT_SCHEMAS:
                    continue
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {_ident(schema)}")
                con.execute(
                    f"CREATE TABLE {_ident(schema)}.{_ident(table)} AS "
                    f"SELECT * FROM {_ident(alias)}.{_ident(schema)}.{_ident(table)}"
                )
            if ("raw", "documents") in objects and ("marts", "mart_documents") in objects:
                con.execute(f"CREATE SCHEMA {_PRIVATE_SCHEMA}")
                con.execute(
                    f"CREATE TABLE {_PRIVATE_SCHEMA}.document_text AS SELECT document_id, text "
                    f"FROM {_ident(alias)}.raw.documents"
                )
        finally:
            con.execute(f"DETACH {_ident(alias)}")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    os.replace(partial, target)
    taken_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    info_file.write_text(json.dumps({"source": str(source), "stamp": stamp, "taken_at": taken_at}))
    seconds = time.monotonic() - started
    log.info("agent snapshot of %s refreshed in %.2f s", source, seconds)
    return Snapshot(target, taken_at, refreshed=True, copy_seconds=seconds)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


class DuckDBWarehouse:
    dialect = "duckdb"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.snapshot = refresh_snapshot(settings)
        self.where = f"{settings.warehouse_duckdb_path} (snapshot {self.snapshot.taken_at})"
        self.notices = list(self.snapshot.notices)
        self._catalog: Catalog | None = None

    @contextlib.contextmanager
    def connect(self):
        """The snapshot, read-only, no file or network access, settings locked."""
        import duckdb

        con = duckdb.connect(
            str(self.snapshot.path), read_only=True, config={"enable_external_access": False}
        )
        try:
            # icu is linked in (no file access needed): UTC dates, as the dbt project uses.
            con.execute("LOAD icu")
            con.execute("SET TimeZone = 'UTC'")
            con.execute("SET lock_configuration = true")
            yield con
        finally:
            con.close()

    def catalog(self) -> Catalog:
        if self._catalog is None:
            with self.connect() as con:
                rows = con.execute(
                    "SELECT schema_name, table_name, column_name, data_type FROM duckdb_columns() "
                    "WHERE schema_name IN (SELECT unnest(?)) ORDER BY schema_name, table_name, "
                    "column_index",
                    [list(AGENT_SCHEMAS)],
                ).fetchall()
            tables: dict[tuple[str, str], dict[str, str]] = {}
            for schema, table, column, kind in rows:
                tables.setdefault((schema.lower(), table.lower()), {})[column.lower()] = kind
            self._catalog = Catalog("duckdb", tables)
        return self._catalog

    def run(self, sql: str, *, limit: int, timeout: float) -> QueryResult:
        import duckdb

        started = time.monotonic()
        with self.connect() as con:
            timer = threading.Timer(timeout, con.interrupt)
            timer.start()
            try:
                cursor = con.execute(sql)
                columns = [d[0] for d in cursor.description or []]
                rows = cursor.fetchmany(limit + 1) if columns else []
            except duckdb.InterruptException:
                raise QueryFailed(
                    f"the query ran longer than {timeout:g} s (AGENT_TIMEOUT_SECONDS) and was "
                    "stopped"
                ) from None
            except duckdb.Error as error:
                raise QueryFailed(_first_line(error)) from None
            finally:
                timer.cancel()
        return QueryResult(
            sql, columns, rows[:limit], len(rows) > limit, time.monotonic() - started
        )

    def document_texts(self) -> list[tuple]:
        with self.connect() as con:
            present = con.execute(
                "SELECT count(*) FROM duckdb_tables() WHERE schema_name = ?", [_PRIVATE_SCHEMA]
            ).fetchall()[0][0]
            if not present:
                return []
            return con.execute(
                f"SELECT {_DOCUMENT_COLUMNS}, texts.text FROM marts.mart_documents AS documents "
                f"JOIN {_PRIVATE_SCHEMA}.document_text AS texts USING (document_id) "
                "ORDER BY documents.file_path"
            ).fetchall()

    def close(self) -> None:
        pass


# --- Snowflake --------------------------------------------------------------------------------


class SnowflakeWarehouse:
    dialect = "snowflake"

    def __init__(self, settings: Settings) -> None:
        from stack.warehouse.targets.snowflake import snowflake_connect

        self.settings = settings
        self.where = f"{settings.snowflake_account}: {settings.snowflake_database}"
        self.notices: list[str] = []
        self._catalog: Catalog | None = None
        self.conn = snowflake_connect(settings)
        cursor = self.conn.cursor()
        try:
            if settings.agent_snowflake_role:
                cursor.execute(f"USE ROLE {_snowflake_name(settings.agent_snowflake_role)}")
            cursor.execute(f"USE DATABASE {_snowflake_name(settings.snowflake_database)}")
        finally:
            cursor.close()

    def catalog(self) -> Catalog:
        if self._catalog is None:
            cursor = self.conn.cursor()
            try:
                rows = cursor.execute(
                    "SELECT table_schema, table_name, column_name, data_type "
                    "FROM information_schema.columns WHERE lower(table_schema) IN "
                    f"({', '.join(['%s'] * len(AGENT_SCHEMAS))}) "
                    "ORDER BY table_schema, table_name, ordinal_position",
                    AGENT_SCHEMAS,
                ).fetchall()
            finally:
                cursor.close()
            tables: dict[tuple[str, str], dict[str, str]] = {}
            for schema, table, column, kind in rows:
                tables.setdefault((schema.lower(), table.lower()), {})[column.lower()] = kind
            self._catalog = Catalog("snowflake", tables)
        return self._catalog

    def run(self, sql: str, *, limit: int, timeout: float) -> QueryResult:
        import snowflake.connector

        started = time.monotonic()
        cursor = self.conn.cursor()
        try:
            cursor.execute(sql, timeout=int(max(1, timeout)))
            columns = [d[0].lower() for d in cursor.description or []]
            rows = [tuple(row) for row in cursor.fetchmany(limit + 1)] if columns else []
        except snowflake.connector.errors.Error as error:
            raise QueryFailed(_first_line(error)) from None
        finally:
            cursor.close()
        return QueryResult(
            sql, columns, rows[:limit], len(rows) > limit, time.monotonic() - started
        )

    def document_texts(self) -> list[tuple]:
        raw = _snowflake_name(self.settings.snowflake_schema)
        cursor = self.conn.cursor()
        try:
            return [
                tuple(row)
                for row in cursor.execute(
                    f"SELECT {_DOCUMENT_COLUMNS}, texts.text FROM marts.mart_documents AS documents "
                    f"JOIN {raw}.documents AS texts ON texts.document_id = documents.document_id "
                    "ORDER BY documents.file_path"
                ).fetchall()
            ]
        finally:
            cursor.close()

    def close(self) -> None:
        self.conn.close()


def _snowflake_name(name: str) -> str:
    if not name.replace("_", "").replace("$", "").isalnum():
        raise StackError(f"{name!r} is not a plain Snowflake identifier")
    return name.upper()


def grants_sql(settings: Settings, target: str) -> str:
    """The SQL that creates the agent's SELECT-only role on `target` (snowflake | postgres)."""
    text = (Path(__file__).with_name("readonly_role.sql")).read_text()
    header, _, rest = text.partition("-- snowflake\n")
    snowflake, _, postgres = rest.partition("-- postgres\n")
    if target == "snowflake":
        body, database = snowflake, _snowflake_name(settings.snowflake_database)
    elif target == "postgres":
        body, database = postgres, '"' + settings.postgres_db.replace('"', '""') + '"'
    else:
        raise StackError(f"no read-only role for {target!r}: choose snowflake or postgres")
    return header + body.replace("{database}", database).strip() + "\n"
