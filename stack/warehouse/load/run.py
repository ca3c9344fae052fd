"""`load()`: copy what changed in the PostgreSQL source tables into the warehouse's raw schema."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

import psycopg

from stack.db import connect
from stack.errors import ServiceError, StackError
from stack.progress import OnEvent, Reporter
from stack.settings import Settings
from stack.summary import Summary
from stack.tables import ensure_source_tables, select_tables
from stack.warehouse.load.extract import arrow_connection, extract_query, stream, upper_bound
from stack.warehouse.load.sources import describe
from stack.warehouse.targets import Target, get_target
from stack.warehouse.types import TableSpec

log = logging.getLogger(__name__)

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


@dataclass
class TableLoad:
    table: str
    status: str  # loaded | unchanged | missing (not in PostgreSQL)
    rows: int = 0
    watermark_before: datetime | None = None
    watermark_after: datetime | None = None
    seconds: float = 0.0


@dataclass
class LoadSummary(Summary):
    target: str
    where: str
    full_refresh: bool
    upper_bound: datetime
    held_back_to: datetime | None  # an open writing transaction kept the bound this early
    unseen_sessions: int  # sessions we could not see: the fallback lag was used
    tables: list[TableLoad] = field(default_factory=list)
    created: list[str] = field(default_factory=list)  # source tables created empty first
    seconds: float = 0.0

    derived = ("rows", "rows_per_second")

    @property
    def rows(self) -> int:
        return sum(table.rows for table in self.tables)

    @property
    def rows_per_second(self) -> int:
        return round(self.rows / self.seconds) if self.seconds else 0


def load(
    settings: Settings,
    *,
    target: str | None = None,
    tables: list[str] | None = None,
    full_refresh: bool = False,
    on_event: OnEvent | None = None,
) -> LoadSummary:
    """Copy rows new or changed since each table's watermark into raw.<table> of the target,
    merged on the primary key; each table's watermark advances only once its rows are in.

    `tables`: source table names (default: every table of the catalog, stack/tables.py);
    `full_refresh`: drop and reload the selected tables from scratch. A source table that a
    pipeline has not created yet is created (empty, by its pipeline's DDL) first, so that
    the warehouse always holds every table dbt reads.
    """
    wh = get_target(settings, target)
    wh.check_settings()
    selected = select_tables(tables)
    report = Reporter("load", on_event, log)
    started = time.monotonic()
    with (
        connect(settings, autocommit=True) as pg,
        wh,
        _exclusive(pg, wh.name, wh.where()),
    ):
        created = ensure_source_tables(pg, selected)
        bound = upper_bound(pg, settings.warehouse_fallback_lag_seconds)
        specs = [(table, describe(pg, table)) for table in selected]
        summary = LoadSummary(
            target=wh.name,
            where=wh.where(),
            full_refresh=full_refresh,
            upper_bound=bound.value,
            held_back_to=bound.held_back_to,
            unseen_sessions=bound.unseen_sessions,
            created=created,
        )
        report.start(total=len(specs), detail=f"{wh.name} ({wh.where()})")
        with arrow_connection(settings) as adbc:
            for table, spec in specs:
                if spec is None:  # dropped since ensure_source_tables: nothing to load
                    summary.tables.append(TableLoad(table.name, "missing"))
                    report.item(table.name, "missing")
                    continue
                report.start(spec.name)
                result = _load_table(pg, adbc, wh, spec, bound.value, full_refresh, report)
                summary.tables.append(result)
                report.item(spec.name, result.status, done=result.rows)
    summary.seconds = time.monotonic() - started
    report.done(done=summary.rows)
    return summary


def _load_table(
    pg: psycopg.Connection,
    adbc: object,
    wh: Target,
    spec: TableSpec,
    bound: datetime,
    full_refresh: bool,
    report: Reporter,
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
        report.progress(seen, item=spec.name)

    try:
        with stream(adbc, extract_query(pg, spec, before, hi), on_rows) as reader:
            rows = wh.write(spec, reader, hi=hi, full_refresh=full_refresh)
    except Exception as error:
        if not isinstance(error, _data_errors()):
            raise
        if _source_lost(pg, error):
            raise ServiceError(
                f"lost PostgreSQL while loading {spec.name}: {_first_line(error)} (tables "
                f"loaded before it are committed; {spec.name}'s watermark did not move: rerun "
                "`stack load` once PostgreSQL is back)"
            ) from error
        raise _load_error(spec.name, wh.name, error) from error
    return TableLoad(
        spec.name, "loaded" if rows else "unchanged", rows, before, hi, time.monotonic() - started
    )


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


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def _source_lost(pg: psycopg.Connection, error: Exception) -> bool:
    """Whether `error` came from losing PostgreSQL (it crashed, restarted, the connection
    was cut), not from the data or the warehouse: then the source no longer answers."""
    import adbc_driver_manager

    if not isinstance(error, psycopg.OperationalError | adbc_driver_manager.OperationalError):
        return False
    try:
        pg.execute("SELECT 1").fetchall()
    except psycopg.Error:
        return True
    return "libpq" in str(error) or "connection" in str(error).lower()


def _load_error(table: str, target: str, error: Exception) -> StackError:
    detail = _first_line(error)
    return StackError(
        f"loading {table} into {target} failed: {detail} (tables loaded before it are "
        f"committed; {table}'s watermark did not move: fix the cause and rerun `stack load`)"
    )
