"""`stack preview`: a recent window of the PostgreSQL tables in DuckDB, summarised.

The window is pulled the loader's way (ADBC record batches, exact types) into an in-memory
DuckDB (or a file, to keep exploring it), one DuckDB table per source table under its own
name, so `--sql` reads like SQL on the source.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
from psycopg import sql

from stack.db import connect
from stack.errors import StackError
from stack.settings import Settings
from stack.tables import SourceTable, select_tables
from stack.warehouse.load.extract import arrow_connection, select_sql, stream
from stack.warehouse.load.sources import describe
from stack.warehouse.targets.duckdb import cast_select
from stack.warehouse.types import duckdb_ident as q

OUTPUT_FORMATS = {".parquet": "parquet", ".csv": "csv"}


@dataclass
class QueryResult:
    title: str
    columns: list[str]
    rows: list[tuple]


@dataclass
class Preview:
    con: duckdb.DuckDBPyConnection
    since: dt.datetime
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows in the window
    missing: list[str] = field(default_factory=list)  # not in PostgreSQL (yet)

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Preview:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def pull_window(
    settings: Settings,
    *,
    days: float = 7,
    tables: list[str] | None = None,
    database: Path | None = None,
) -> Preview:
    """Rows of the last `days` days of each table into DuckDB (`database`: a file, replacing
    its tables of the same names; default: in memory)."""
    if days <= 0:
        raise StackError(f"--days must be positive, got {days}")
    selected: list[SourceTable] = select_tables(tables)
    if database is not None:
        database.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(database) if database else ":memory:")
    except duckdb.IOException as error:
        raise StackError(f"cannot open {database}: {str(error).splitlines()[0]}") from None
    con.execute("SET TimeZone = 'UTC'")
    with connect(settings, autocommit=True) as pg:
        since = pg.execute("SELECT now() - make_interval(secs => %s)", (days * 86400,)).fetchall()[
            0
        ][0]
        preview = Preview(con, since)
        with arrow_connection(settings) as adbc:
            for table in selected:
                spec = describe(pg, table)
                if spec is None:
                    preview.missing.append(table.name)
                    continue
                # The rows of the window, by the column that places each row in time.
                where = sql.SQL("{} >= {}").format(
                    sql.Identifier(table.window_column), sql.Literal(since)
                )
                with stream(adbc, select_sql(pg, spec, where)) as reader:
                    con.register("_stack_window", reader)
                    con.execute(
                        f"CREATE OR REPLACE TABLE {q(spec.name)} AS "
                        + cast_select(spec, "_stack_window")
                    )
                    con.unregister("_stack_window")
                preview.rows[spec.name] = con.execute(
                    f"SELECT count(*) FROM {q(spec.name)}"
                ).fetchall()[0][0]
    return preview


def summaries(preview: Preview, top: int = 10) -> list[QueryResult]:
    """Rows per table, spend by category, top merchants, DLQ and reject counts (those the
    window has tables for)."""
    have = set(preview.rows)
    found = [
        QueryResult(
            f"rows since {preview.since:%Y-%m-%d}",
            ["table", "rows"],
            [(name, count) for name, count in preview.rows.items()],
        )
    ]
    # Money out: realtime card payments that went through; batch statement debits.
    spend = []
    if "transactions_sink" in have:
        spend.append(
            "SELECT 'realtime' AS source, category, merchant, currency, amount "
            "FROM transactions_sink WHERE status IN ('authorized', 'captured')"
        )
    if "batch_transactions" in have:
        spend.append(
            "SELECT 'batch' AS source, category, merchant, currency, -amount "
            "FROM batch_transactions WHERE amount < 0"
        )
    if spend:
        union = " UNION ALL ".join(spend)
        found.append(
            _summary(
                preview,
                "spend by category",
                f"SELECT source, category, currency, count(*) AS transactions, "
                f"sum(amount) AS spend FROM ({union}) GROUP BY ALL "
                f"ORDER BY spend DESC",
            )
        )
        found.append(
            _summary(
                preview,
                f"top {top} merchants by spend",
                f"SELECT merchant, currency, count(*) AS transactions, "
                f"sum(amount) AS spend FROM ({union}) GROUP BY ALL "
                f"ORDER BY spend DESC, merchant LIMIT {int(top)}",
            )
        )
    problems = []
    if "transactions_dlq" in have:
        problems.append("SELECT 'transactions_dlq' AS \"table\", reason FROM transactions_dlq")
    if "ingest_rejects" in have:
        problems.append("SELECT 'ingest_rejects', reason FROM ingest_rejects")
    if problems:
        found.append(
            _summary(
                preview,
                "dead letters and rejects",
                f'SELECT "table", reason, count(*) AS rows FROM '
                f"({' UNION ALL '.join(problems)}) GROUP BY ALL "
                f"ORDER BY rows DESC, reason",
            )
        )
    return found


def _summary(preview: Preview, title: str, query: str) -> QueryResult:
    cursor = preview.con.execute(query)
    return QueryResult(title, [d[0] for d in cursor.description], cursor.fetchall())


def run_query(preview: Preview, query: str, limit: int | None = None) -> QueryResult:
    """The user's SQL on the window; a user error (one line) when DuckDB rejects it."""
    try:
        cursor = preview.con.execute(query)
        columns = [d[0] for d in cursor.description] if cursor.description else []
        rows = (cursor.fetchmany(limit) if limit else cursor.fetchall()) if columns else []
    except duckdb.Error as error:
        raise StackError(f"--sql failed: {str(error).strip().splitlines()[0]}") from None
    return QueryResult(query, columns, rows)


def _bare(query: str) -> str:
    """The query without trailing semicolons, to nest it in COPY (...)."""
    return query.strip().rstrip(";").strip()


def output_format(out: Path) -> str:
    kind = OUTPUT_FORMATS.get(out.suffix.lower())
    if kind is None:
        raise StackError(f"--out {out}: the file must end in .parquet or .csv")
    return kind


def save(preview: Preview, query: str, out: Path) -> int:
    """Write the query's rows to `out` (.parquet or .csv); the row count."""
    kind = output_format(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    options = "FORMAT parquet" if kind == "parquet" else "FORMAT csv, HEADER true"
    path = str(out).replace("'", "''")
    try:
        return preview.con.execute(f"COPY ({_bare(query)}) TO '{path}' ({options})").fetchall()[0][
            0
        ]
    except duckdb.Error as error:
        raise StackError(f"cannot write {out}: {str(error).strip().splitlines()[0]}") from None
