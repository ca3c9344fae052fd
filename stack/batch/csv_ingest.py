"""Monthly statement CSVs -> `batch_transactions`, bad rows -> `ingest_rejects`.

Validation is done in bulk, never row by row in Python: pyarrow parses every field as text
(rows with the wrong number of fields go to a handler that notes their line), DuckDB checks
dates, amounts and currencies with one query, and the good rows go to PostgreSQL by COPY.

The fast path streams: the file is parsed and checked block by block while a writer thread
feeds the previous blocks' good rows to the COPY, so PostgreSQL works while Python checks.
A transaction_id seen twice (in the file, or already loaded from another file) stops it with
a primary-key violation; the savepoint rolls back and the careful path takes over: the whole
file checked at once, duplicates within the file rejected, rows clashing with another file
staged and rejected, the rest loaded. Python only ever touches the rejected rows.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

import duckdb
import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from psycopg import errors as pgerrors
from psycopg.copy import QueuedLibpqWriter

from stack.batch.formats import CSV_COLUMNS, CURRENCIES, MAX_AMOUNT
from stack.batch.reasons import BadFile

BLOCK_SIZE = 4 << 20  # bytes parsed, checked and sent at a time on the fast path
_BOM = b"\xef\xbb\xbf"
_NOT_BLANK = re.compile(rb"\S")

# What the COPY sends per row; source_file and file_sha256 come from the column defaults
# (settings set once per file, see schema.py): half the bytes on the wire.
_COPY_COLUMNS = ", ".join((*CSV_COLUMNS, "source_line"))
_ALL_COLUMNS = ", ".join((*CSV_COLUMNS, "source_line", "source_file", "file_sha256"))

# Every row's first failing check, or NULL. Values go to PostgreSQL as the text they were
# (trimmed): a value that passes here is one PostgreSQL's date and numeric(12,2) accept.
_CHECK_SQL = """
WITH src AS (
    SELECT line, trim(transaction_id) AS tid, trim(account_id) AS account_id,
           trim(posted_date) AS d, description, merchant, category,
           trim(amount) AS a, trim(currency) AS cur
    FROM parsed
    -- a blank line: pyarrow gives it empty fields; it is skipped, not rejected
    WHERE NOT (transaction_id = '' AND account_id = '' AND posted_date = '' AND description = ''
               AND merchant = '' AND category = '' AND amount = '' AND currency = '')
)
SELECT tid, account_id, d, description, merchant, category, a, cur, line,
    CASE
        WHEN tid = '' THEN ['missing_field', 'transaction_id', 'transaction_id is empty']
        WHEN account_id = '' THEN ['missing_field', 'account_id', 'account_id is empty']
        WHEN d = '' THEN ['missing_field', 'posted_date', 'posted_date is empty']
        WHEN a = '' THEN ['missing_field', 'amount', 'amount is empty']
        WHEN cur = '' THEN ['missing_field', 'currency', 'currency is empty']
        WHEN length(d) <> 10 OR NOT regexp_full_match(d, '[0-9]{4}-[0-9]{2}-[0-9]{2}')
             OR try_strptime(d, '%Y-%m-%d') IS NULL
            THEN ['bad_date', 'posted_date', format('{} is not a date (YYYY-MM-DD)', d)]
        WHEN d NOT BETWEEN '1900-01-01' AND '2999-12-31'
            THEN ['bad_date', 'posted_date', format('{} is out of range (1900 to 2999)', d)]
        WHEN NOT regexp_full_match(a, '[+-]?[0-9]+(\\.[0-9]+)?')
            THEN ['bad_amount', 'amount', format('{} is not a number (like -12.50)', a)]
        WHEN regexp_full_match(a, '[+-]?[0-9]+\\.[0-9]{3,}')
            THEN ['bad_amount', 'amount', format('{} has more than 2 decimals', a)]
        WHEN abs(CAST(a AS DOUBLE)) > $max_amount
            THEN ['amount_out_of_range', 'amount', format('{} does not fit numeric(12,2)', a)]
        WHEN NOT list_contains($currencies, cur)
            THEN ['unknown_currency', 'currency', format('{} is not a known ISO 4217 code', cur)]
    END AS problem
FROM src
"""
_CHECK_PARAMS = {"max_amount": float(MAX_AMOUNT), "currencies": sorted(CURRENCIES)}

# The careful path: the same checks over the whole file, plus duplicates within it (the
# first line with an id wins).
_CAREFUL_SQL = f"""
CREATE TEMP TABLE checked AS
SELECT *, min(line) FILTER (WHERE problem IS NULL) OVER (PARTITION BY tid) AS first_line
FROM ({_CHECK_SQL})
"""
_CAREFUL_GOOD = """
SELECT tid, account_id, d, description, merchant, category, a, cur, line
FROM checked WHERE problem IS NULL AND line = first_line ORDER BY line
"""
_CAREFUL_BAD = """
SELECT line, problem FROM checked WHERE problem IS NOT NULL
UNION ALL
SELECT line, ['duplicate_id', 'transaction_id',
              format('transaction_id {} already on line {}', tid, first_line)]
FROM checked WHERE problem IS NULL AND line <> first_line
"""


@dataclass(frozen=True)
class RowReject:
    line: int
    field: str | None
    reason: str
    detail: str
    raw: str


class _Source:
    """The file's bytes, and its lines by number (only rejected rows ever ask)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self._ends: np.ndarray | None = None

    def line(self, number: int) -> str:
        if self._ends is None:  # offsets of every newline, found in one vectorised pass
            self._ends = np.flatnonzero(np.frombuffer(self.data, dtype=np.uint8) == 10)
        start = int(self._ends[number - 2]) + 1 if number >= 2 else 0
        stop = int(self._ends[number - 1]) if number - 1 < len(self._ends) else len(self.data)
        return self.data[start:stop].rstrip(b"\r").decode("utf-8", "replace")

    def reject(self, line: int, problem: list[str]) -> RowReject:
        reason, fld, detail = problem
        return RowReject(line, fld, reason, detail, self.line(line))


class _LineNumbers:
    """Which line each parsed row came from. Every physical line after the header is one
    parsed row or part of one invalid row (an unclosed quote can swallow several), so the
    parsed rows take the lines the invalid ones left, in order."""

    def __init__(self, data: bytes) -> None:
        self.count = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
        self.taken = np.zeros(self.count + 2, dtype=bool)
        self.taken[:2] = True  # no line 0; line 1 is the header
        self.cursor = 2
        self.rejects: list[RowReject] = []

    def on_invalid(self, row: pacsv.InvalidRow) -> str:
        self.taken[row.number : row.number + row.text.count("\n") + 1] = True
        self.rejects.append(
            RowReject(
                row.number,
                None,
                "wrong_column_count",
                f"{row.actual_columns} fields, the header has {row.expected_columns}",
                row.text.rstrip("\r\n"),
            )
        )
        return "skip"

    def next(self, rows: int) -> pa.Array:
        free = np.flatnonzero(~self.taken[self.cursor :])[:rows] + self.cursor
        if len(free) < rows:
            raise BadFile(
                "unparseable_csv",
                f"more rows were parsed than the file has lines (line {self.cursor})",
            )
        if rows:
            self.cursor = int(free[-1]) + 1
        return pa.array(free, type=pa.int32())

    def check_done(self) -> None:
        left = np.flatnonzero(~self.taken[self.cursor : self.count + 1])
        if len(left):
            raise BadFile(
                "unparseable_csv", f"line {self.cursor + int(left[0])} was not parsed as a row"
            )


def check_text(data: bytes) -> bytes:
    """Whole-file checks, one fast pass each: encoding, line endings, header, any rows."""
    if data.startswith(_BOM):  # Excel writes one; it is not part of the first column's name
        data = data[len(_BOM) :]
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise BadFile(
            "not_utf8",
            f"line {line}: byte 0x{data[error.start]:02x} is not UTF-8 (save the file as UTF-8)",
        ) from None
    if (nul := data.find(b"\x00")) >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise BadFile("not_utf8", f"line {line}: a NUL byte: binary data, not text")
    if data.count(b"\r") != data.count(b"\r\n"):
        bare = re.search(rb"\r(?!\n)", data).start()  # type: ignore[union-attr]
        line = data.count(b"\n", 0, bare) + 1
        raise BadFile(
            "bad_line_endings",
            f"line {line}: a carriage return without a line feed "
            "(save with Unix or Windows line endings)",
        )
    if not _NOT_BLANK.search(data):
        raise BadFile("empty_csv", "only blank lines, not even a header")
    end = data.find(b"\n")
    header_line = data[: end if end >= 0 else len(data)].rstrip(b"\r").decode()
    names = [name.strip() for name in next(csv.reader([header_line]))]
    if sorted(names) != sorted(CSV_COLUMNS):
        missing = [c for c in CSV_COLUMNS if c not in names]
        extra = [c for c in names if c not in CSV_COLUMNS]
        raise BadFile(
            "wrong_header",
            f"line 1: expected columns {','.join(CSV_COLUMNS)}"
            + (f"; missing {','.join(missing)}" if missing else "")
            + (f"; unexpected {','.join(extra)}" if extra else "")
            + ("; a column is repeated" if not missing and not extra else ""),
        )
    if end < 0 or not _NOT_BLANK.search(data, end):
        raise BadFile("empty_csv", "a header and no rows")
    return data


def _csv_options(lines: _LineNumbers, block_size: int) -> dict:
    return {
        # Single-threaded: only then does pyarrow know each invalid row's line number.
        "read_options": pacsv.ReadOptions(use_threads=False, block_size=block_size),
        "parse_options": pacsv.ParseOptions(
            newlines_in_values=False, ignore_empty_lines=False, invalid_row_handler=lines.on_invalid
        ),
        "convert_options": pacsv.ConvertOptions(
            column_types=dict.fromkeys(CSV_COLUMNS, pa.string()),
            include_columns=list(CSV_COLUMNS),
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    }


def _unparseable(error: pa.ArrowInvalid) -> BadFile:
    return BadFile("unparseable_csv", str(error).splitlines()[0])


def _copy_sql(table: str) -> str:
    return f"COPY {table} ({_COPY_COLUMNS}) FROM STDIN (FORMAT csv)"


def _csv_bytes(table: pa.Table) -> memoryview:
    buffer = io.BytesIO()
    pacsv.write_csv(table, buffer, pacsv.WriteOptions(include_header=False))
    return buffer.getbuffer()


def _fast(conn: psycopg.Connection, source: _Source) -> tuple[int, list[RowReject]]:
    lines = _LineNumbers(source.data)
    rows, rejects = 0, []
    cursor = conn.cursor()
    with (
        duckdb.connect(config={"threads": 1}) as con,  # the other core is PostgreSQL's
        cursor.copy(_copy_sql("batch_transactions"), writer=QueuedLibpqWriter(cursor)) as copy,
    ):
        try:
            reader = pacsv.open_csv(pa.BufferReader(source.data), **_csv_options(lines, BLOCK_SIZE))
            for batch in reader:
                block = pa.Table.from_batches([batch]).append_column(
                    "line", lines.next(batch.num_rows)
                )
                con.register("parsed", block)
                checked = con.sql(_CHECK_SQL, params=_CHECK_PARAMS).to_arrow_table()
                con.unregister("parsed")
                problems = checked["problem"]
                good = checked.drop_columns(["problem"])
                if problems.null_count < len(problems):  # some rows failed a check
                    good = good.filter(pc.is_null(problems))
                    bad = checked.filter(pc.is_valid(problems)).select(["line", "problem"])
                    rejects += [source.reject(r["line"], r["problem"]) for r in bad.to_pylist()]
                if good.num_rows:
                    copy.write(_csv_bytes(good))  # returns at once: a thread sends it
                    rows += good.num_rows
        except pa.ArrowInvalid as error:
            raise _unparseable(error) from None
        lines.check_done()
    return rows, sorted(rejects + lines.rejects, key=lambda r: r.line)


def _careful(conn: psycopg.Connection, source: _Source) -> tuple[int, list[RowReject]]:
    lines = _LineNumbers(source.data)
    try:
        table = pacsv.read_csv(
            pa.BufferReader(source.data),
            **_csv_options(lines, max(BLOCK_SIZE, len(source.data) + 1)),
        )
    except pa.ArrowInvalid as error:
        raise _unparseable(error) from None
    table = table.append_column("line", lines.next(table.num_rows))
    lines.check_done()
    with duckdb.connect() as con:
        con.register("parsed", table)
        con.execute(_CAREFUL_SQL, _CHECK_PARAMS)
        good = con.sql(_CAREFUL_GOOD).to_arrow_table()
        rejects = [
            source.reject(line, problem) for line, problem in con.execute(_CAREFUL_BAD).fetchall()
        ]
    cursor = conn.cursor()
    cursor.execute(
        "CREATE TEMP TABLE batch_staging (LIKE batch_transactions INCLUDING DEFAULTS)"
        " ON COMMIT DROP"
    )
    with cursor.copy(_copy_sql("batch_staging")) as copy:
        copy.write(_csv_bytes(good))
    clashes = cursor.execute(
        "SELECT s.source_line, s.transaction_id, t.source_file, t.source_line"
        " FROM batch_staging s JOIN batch_transactions t USING (transaction_id)"
    ).fetchall()
    cursor.execute(
        f"INSERT INTO batch_transactions ({_ALL_COLUMNS}) SELECT {_ALL_COLUMNS}"
        " FROM batch_staging s WHERE NOT EXISTS (SELECT FROM batch_transactions t"
        " WHERE t.transaction_id = s.transaction_id)"
    )
    cursor.execute("DROP TABLE batch_staging")
    rejects += [
        source.reject(
            line,
            [
                "duplicate_id_other_file",
                "transaction_id",
                f"transaction_id {tid} already loaded from {other} line {at}",
            ],
        )
        for line, tid, other, at in clashes
    ]
    return good.num_rows - len(clashes), sorted(rejects + lines.rejects, key=lambda r: r.line)


def load_csv(
    conn: psycopg.Connection, data: bytes, *, source_file: str, sha256: str
) -> tuple[int, list[RowReject]]:
    """Load one statement CSV inside the caller's transaction: (rows loaded, rows rejected).
    Raises BadFile when the file as a whole is unusable."""
    source = _Source(check_text(data))
    conn.execute(
        "SELECT set_config('stack.batch_file', %s, true),"
        " set_config('stack.batch_file_sha256', %s, true)",
        (source_file, sha256),
    )
    try:
        with conn.transaction():  # a savepoint: the fast path stops at the first duplicate id
            return _fast(conn, source)
    except pgerrors.UniqueViolation:
        return _careful(conn, source)


def copy_rejects(
    conn: psycopg.Connection, rejects: list[RowReject], *, source_file: str, sha256: str
) -> None:
    if not rejects:
        return
    with conn.cursor().copy(
        "COPY ingest_rejects (file, file_sha256, line, field, reason, detail, raw) FROM STDIN"
    ) as copy:
        for r in rejects:
            copy.write_row((source_file, sha256, r.line, r.field, r.reason, r.detail, r.raw))
