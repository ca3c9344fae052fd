"""Reading changed rows out of PostgreSQL: the safe upper bound of a load, and the Arrow stream.

Why a bound at all: `updated_at` is clock_timestamp() at the moment a row is written, but the
row only becomes visible when its transaction commits, possibly much later. A naive cursor
(`updated_at > max(updated_at) seen so far`) therefore misses a row that a long transaction
wrote before the previous load and committed after it.

The method (exact, not a guess at a lag):
1. `t0 = clock_timestamp()`.
2. Then, in a new transaction, read pg_stat_activity for the sessions of this database that
   may have written rows not yet visible: those with a transaction id (they wrote) or a
   snapshot (a statement is running right now, perhaps writing). Call the earliest of their
   transaction start times `s`.
3. The load's upper bound is `C = min(t0, s)`; it extracts `lo <= updated_at < C`, in a
   snapshot taken after step 2, and then records `C` as the table's watermark.

Why nothing below `C` can appear later: a row with `updated_at < C` was written by a
transaction T that started at or before that moment (clock_timestamp() >= transaction start),
so before `t0`. If T was still running at step 2 and had written, it showed a transaction id
and its start is >= `s` >= `C`: a contradiction. If T was running but had not written yet, its
future rows get timestamps after step 2, so >= `t0` >= `C`. Otherwise T had finished before
step 2 (PostgreSQL clears xact_start only after the commit is visible), so the extraction's
snapshot sees it. Rows at or above `C` are left for the next load: the intervals
`[lo, C)` of successive loads tile the time line, and the merge on the primary key makes any
overlap harmless anyway.

Limits (docs/warehouse.md): the writers' clock is the server's (one machine, no time going
backwards); prepared (two-phase) transactions are not in pg_stat_activity; sessions of other
roles are visible only with pg_read_all_stats: when some cannot be seen, the bound falls back
to `t0 - WAREHOUSE_FALLBACK_LAG_SECONDS` and the summary says so.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg
import pyarrow as pa
from psycopg import sql

from stack.errors import ServiceError
from stack.settings import Settings
from stack.warehouse.types import TableSpec

# Sessions of this database that may hold written-but-invisible rows. Autovacuum has a
# snapshot but never writes rows. xact_start is NULL for other roles' sessions without
# pg_read_all_stats (their xid/xmin stay visible).
_READ_AHEAD = 8  # record batches (ADBC's are about 16 MB)

_ACTIVITY_SQL = """
SELECT min(xact_start), count(*) FILTER (WHERE xact_start IS NULL)
FROM pg_stat_activity
WHERE datid = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND pid <> pg_backend_pid()
  AND backend_type IS DISTINCT FROM 'autovacuum worker'  -- NULL for hidden sessions
  AND (backend_xid IS NOT NULL OR backend_xmin IS NOT NULL)
"""


@dataclass(frozen=True)
class Bound:
    value: datetime  # every row version with cursor < value is committed and will be read
    now: datetime  # t0
    held_back_to: datetime | None  # the oldest open writing transaction's start, if any
    unseen_sessions: int  # sessions whose transactions we could not see (fallback lag used)


def upper_bound(conn: psycopg.Connection, fallback_lag_seconds: float) -> Bound:
    """The load's upper bound (module docstring). `conn` must be in autocommit mode: each
    statement then runs in its own transaction and reads pg_stat_activity afresh."""
    if not conn.autocommit:
        raise ValueError("upper_bound needs an autocommit connection")
    now = conn.execute("SELECT clock_timestamp()").fetchall()[0][0]
    oldest, unseen = conn.execute(_ACTIVITY_SQL).fetchall()[0]
    if unseen:
        value = now - timedelta(seconds=fallback_lag_seconds)
        if oldest is not None:
            value = min(value, oldest)
    else:
        value = now if oldest is None else min(now, oldest)
    return Bound(value=value, now=now, held_back_to=oldest, unseen_sessions=unseen)


def select_sql(conn: psycopg.Connection, spec: TableSpec, where: sql.Composable) -> str:
    """SELECT of the table's rows matching `where`, each column in its wire form (types.py):
    what the loader and `stack preview` both read."""
    query = sql.SQL("SELECT {} FROM {} WHERE {}").format(
        sql.SQL(", ").join(column.wire_sql() for column in spec.columns),
        sql.Identifier("public", spec.name),
        where,
    )
    return query.as_string(conn)


def extract_query(
    conn: psycopg.Connection, spec: TableSpec, lo: datetime | None, hi: datetime
) -> str:
    """The rows with lo <= cursor < hi."""
    cursor = sql.Identifier(spec.cursor)
    where = sql.SQL("{} < {}").format(cursor, sql.Literal(hi))
    if lo is not None:
        where = sql.SQL("{} >= {} AND ").format(cursor, sql.Literal(lo)) + where
    return select_sql(conn, spec, where)


@contextlib.contextmanager
def arrow_connection(settings: Settings) -> Iterator[object]:
    """An ADBC PostgreSQL connection: query results arrive as Arrow record batches (binary
    COPY underneath), the fastest route into DuckDB available here."""
    import adbc_driver_postgresql.dbapi as adbc

    try:
        conn = adbc.connect(settings.postgres_conninfo())
    except adbc.Error as error:
        raise ServiceError(
            f"cannot connect to PostgreSQL at {settings.postgres_host}:{settings.postgres_port}"
            f"/{settings.postgres_db} over ADBC: {str(error).strip().splitlines()[0]}"
        ) from None
    try:
        yield conn
    finally:
        conn.close()


@contextlib.contextmanager
def stream(
    conn: object, query: str, on_rows: Callable[[int], None] | None = None
) -> Iterator[pa.RecordBatchReader]:
    """The query's rows as an Arrow stream, valid inside the `with` (the cursor owns it);
    `on_rows(n)` is called (from a reader thread) as each batch arrives.

    A thread reads ahead a few batches: consumed in step with DuckDB's casts, the PostgreSQL
    side stalls between batches (measured: 1M rows in 2.6 s in step, 1.5 s read ahead).
    """
    cursor = conn.cursor()  # type: ignore[attr-defined]
    ahead: queue.Queue = queue.Queue(maxsize=_READ_AHEAD)
    stop = threading.Event()
    end = object()

    def offer(item: object) -> bool:
        """Queue `item` unless the consumer has gone away (then: False)."""
        while not stop.is_set():
            try:
                ahead.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for batch in reader:
                if on_rows is not None:
                    on_rows(batch.num_rows)
                if not offer(batch):
                    return
            offer(end)
        except BaseException as error:  # handed to the consumer, raised there
            offer(error)

    def batches() -> Iterator[pa.RecordBatch]:
        while (item := ahead.get()) is not end:
            if isinstance(item, BaseException):
                raise item
            yield item

    try:
        cursor.execute(query)
        reader = cursor.fetch_record_batch()
        thread = threading.Thread(target=read, name="stack-load-read-ahead", daemon=True)
        thread.start()
        try:
            yield pa.RecordBatchReader.from_batches(reader.schema, batches())
        finally:
            stop.set()
            thread.join()
    finally:
        cursor.close()
