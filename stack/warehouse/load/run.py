"""`load()`: copy what changed in the PostgreSQL source tables into the warehouse's raw schema."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Protocol

import psycopg
import pyarrow as pa

from stack.db import connect
from stack.errors import ConfigError, StackError
from stack.settings import Settings
from stack.warehouse.load.extract import arrow_connection, extract_query, stream, upper_bound
from stack.warehouse.load.sources import TableSpec, describe, select_tables

TARGETS = ("duckdb", "snowflake")
# pg_advisory_lock(classid, objid): one load per target at a time, whoever runs it (CLI,
# Airflow, a test): two loads racing could merge an older extract over a newer one.
_LOCK_CLASS = 0x5748_4C44  # "WHLD"


def _data_errors() -> tuple[type[Exception], ...]:
    """What a database, a driver or the disk raise: reported in one line. Anything else is a
    bug and keeps its traceback."""
    import adbc_driver_manager
    import duckdb
    import pyarrow as pa

    return (adbc_driver_manager.Error, duckdb.Error, psycopg.Error, pa.ArrowException, OSError)


_DATA_ERRORS = _data_errors()


@dataclass
class TableLoad:
    table: str
    status: str  # loaded | unchanged | missing (not in PostgreSQL yet)
    rows: int = 0
    watermark_before: datetime | None = None
    watermark_after: datetime | None = None
    seconds: float = 0.0


@dataclass
class LoadSummary:
    target: str
    where: str
    full_refresh: bool
    upper_bound: datetime
    held_back_to: datetime | None  # an open writing transaction kept the bound this early
    unseen_sessions: int  # sessions we could not see: the fallback lag was used
    tables: list[TableLoad] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        return sum(table.rows for table in self.tables)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict:
        data = asdict(self)
        data["rows"] = self.rows
        data["rows_per_second"] = round(self.rows_per_second)
        return data


class Target(Protocol):
    """A warehouse the loader writes to (duckdb_target.py, snowflake_target.py); a context
    manager holding its connection."""

    name: str

    def __enter__(self) -> Target: ...

    def __exit__(self, *exc: object) -> None: ...

    def where(self) -> str: ...  # for messages: a path, or account: database.schema

    def watermark(self, table: str) -> datetime | None: ...

    def write(
        self, spec: TableSpec, reader: pa.RecordBatchReader, *, hi: datetime, full_refresh: bool
    ) -> int:
        """Merge the rows into the table, then set its watermark to `hi`; rows written."""
        ...


@dataclass(frozen=True)
class LoadEvent:
    table: str
    stage: str  # start | rows (a batch passed; `rows` is the running total) | done | missing
    rows: int = 0


def load(
    settings: Settings,
    *,
    target: str | None = None,
    tables: list[str] | None = None,
    full_refresh: bool = False,
    progress: Callable[[LoadEvent], None] | None = None,
) -> LoadSummary:
    """Copy rows new or changed since each table's watermark into raw.<table> of the target,
    merged on the primary key; each table's watermark advances only once its rows are in.

    `tables`: source table names (default: all in the registry, sources.SOURCE_TABLES);
    `full_refresh`: drop and reload the selected tables from scratch.
    """
    target_name = target or settings.warehouse_target
    if target_name not in TARGETS:
        raise ConfigError(
            f"unknown warehouse target {target_name!r} (choose from {', '.join(TARGETS)})"
        )
    selected = select_tables(tables)
    notify = progress or (lambda event: None)
    started = time.monotonic()
    with (
        connect(settings, autocommit=True) as pg,
        _open_target(settings, target_name) as wh,
        _exclusive(pg, target_name, wh.where()),
    ):
        bound = upper_bound(pg, settings.warehouse_fallback_lag_seconds)
        specs = [(table, describe(pg, table)) for table in selected]
        summary = LoadSummary(
            target=target_name,
            where=wh.where(),
            full_refresh=full_refresh,
            upper_bound=bound.value,
            held_back_to=bound.held_back_to,
            unseen_sessions=bound.unseen_sessions,
        )
        with arrow_connection(settings) as adbc:
            for table, spec in specs:
                if spec is None:
                    summary.tables.append(TableLoad(table.name, "missing"))
                    notify(LoadEvent(table.name, "missing"))
                    continue
                notify(LoadEvent(spec.name, "start"))
                result = _load_table(pg, adbc, wh, spec, bound.value, full_refresh, notify)
                summary.tables.append(result)
                notify(LoadEvent(spec.name, "done", result.rows))
    summary.seconds = time.monotonic() - started
    return summary


def _load_table(
    pg: psycopg.Connection,
    adbc: object,
    wh: Target,
    spec: TableSpec,
    bound: datetime,
    full_refresh: bool,
    notify: Callable[[LoadEvent], None],
) -> TableLoad:
    """One table: rows with watermark <= cursor < bound, merged, then the new watermark."""
    started = time.monotonic()
    before = None if full_refresh else wh.watermark(spec.name)
    # Never backwards: a transaction idle since before the last load, now writing, can move
    # the bound below the watermark, but what it writes now is newer than the watermark.
    hi = bound if before is None else max(before, bound)
    if before is not None and hi == before:
        return TableLoad(spec.name, "unchanged", 0, before, before, time.monotonic() - started)
    seen = 0

    def on_rows(count: int) -> None:
        nonlocal seen
        seen += count
        notify(LoadEvent(spec.name, "rows", seen))

    try:
        with stream(adbc, extract_query(pg, spec, before, hi), on_rows) as reader:
            rows = wh.write(spec, reader, hi=hi, full_refresh=full_refresh)
    except _DATA_ERRORS as error:
        raise _load_error(spec.name, wh.name, error) from error
    return TableLoad(
        spec.name, "loaded" if rows else "unchanged", rows, before, hi, time.monotonic() - started
    )


def _open_target(settings: Settings, name: str) -> Target:
    if name == "snowflake":
        from stack.warehouse.load.snowflake_target import SnowflakeTarget

        return SnowflakeTarget(settings)
    from stack.warehouse.load.duckdb_target import DuckDBTarget

    return DuckDBTarget(settings.warehouse_duckdb_path)


@contextlib.contextmanager
def _exclusive(pg: psycopg.Connection, target: str, where: str) -> Iterator[None]:
    """Hold a session advisory lock for (target, where) for the whole load."""
    got = pg.execute(
        "SELECT pg_try_advisory_lock(%s, hashtext(%s))", (_LOCK_CLASS, f"{target}:{where}")
    ).fetchall()[0][0]
    if not got:
        raise StackError(f"another load into {target} ({where}) is running: wait for it")
    try:
        yield
    finally:
        with contextlib.suppress(psycopg.Error):
            pg.execute(
                "SELECT pg_advisory_unlock(%s, hashtext(%s))", (_LOCK_CLASS, f"{target}:{where}")
            )


def _load_error(table: str, target: str, error: Exception) -> StackError:
    detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return StackError(
        f"loading {table} into {target} failed: {detail} (tables loaded before it are "
        f"committed; {table}'s watermark did not move: fix the cause and rerun `stack load`)"
    )
