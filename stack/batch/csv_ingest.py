"""Monthly statement CSVs -> `batch_transactions`, bad rows -> `ingest_rejects`.

Validation is done in bulk, never row by row in Python: pyarrow parses every field as text
(records with the wrong number of fields go to a handler, csv_records.py maps records to
lines), DuckDB normalises the amounts (accounting negatives, thousands separators, decimal
commas) and checks dates, amounts and currencies with one query, and the good rows go to
PostgreSQL by COPY. The file's form (encoding, header, delimiter) is settled first, in
csv_dialect.py.

The fast path streams: the file is parsed and checked block by block while a writer thread
feeds the previous blocks' good rows to the COPY, so PostgreSQL works while Python checks.
A transaction_id seen twice (in the file, or already loaded from another file) stops it with
a primary-key violation, and a quoted value left open across a block boundary stops pyarrow;
the savepoint rolls back and the careful path takes over: the whole file parsed and checked
at once, duplicates within the file rejected, rows clashing with another file staged and
rejected, the rest loaded. Python only ever touches the rejected rows.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass

import duckdb
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from psycopg import errors as pgerrors
from psycopg.copy import QueuedLibpqWriter

from stack.batch.csv_dialect import Dialect, check_text
from stack.batch.csv_records import Records, RowReject, Source
from stack.batch.formats import CSV_COLUMNS, CURRENCIES, MAX_AMOUNT
from stack.batch.reasons import BadFile

__all__ = ["CsvLoad", "RowReject", "copy_rejects", "load_csv"]

BLOCK_SIZE = 4 << 20  # bytes parsed, checked and sent at a time on the fast path

# What the COPY sends per row; source_file and file_sha256 come from the column defaults
# (settings set once per file, see schema.py): half the bytes on the wire.
_COPY_COLUMNS = ", ".join((*CSV_COLUMNS, "source_line"))
_ALL_COLUMNS = ", ".join((*CSV_COLUMNS, "source_line", "source_file", "file_sha256"))


def _amount_sql(decimal_comma: bool) -> tuple[str, str]:
    """(the plain-number test on the trimmed amount `a0`, its normalised text `a`).

    Plain numbers ("-12.50", or "-12,50" with a decimal comma) take the cheap branch. The
    rest: an accounting negative "(12.50)" becomes "-12.50"; thousands separators go, but
    only in valid groups of three ("1,234.50", "1.234,50"); whatever is left must then be a
    plain number or the row is rejected."""
    dec, group = (",", r"\.") if decimal_comma else (r"\.", ",")

    def point(text: str) -> str:  # the decimal mark as PostgreSQL reads it
        return f"replace({text}, ',', '.')" if decimal_comma else text

    plain = f"regexp_full_match(a0, '[+-]?[0-9]+({dec}[0-9]{{1,2}})?')"
    unwrapped = (
        r"(CASE WHEN regexp_full_match(a0, '\(\s*[^()]*\s*\)')"
        r" THEN '-' || trim(substr(a0, 2, length(a0) - 2)) ELSE a0 END)"
    )
    grouped = (
        f"regexp_full_match({unwrapped}, '[+-]?[0-9]{{1,3}}({group}[0-9]{{3}})+({dec}[0-9]+)?')"
    )
    ungrouped = f"replace({unwrapped}, '{group[-1]}', '')"
    normalised = f"CASE WHEN {grouped} THEN {point(ungrouped)} ELSE {point(unwrapped)} END"
    return plain, f"CASE WHEN {plain} THEN {point('a0')} ELSE {normalised} END"


@functools.cache
def _check_sql(decimal_comma: bool, blanks: tuple[tuple[int, str], ...]) -> str:
    """Every row's first failing check, or NULL. Values go to PostgreSQL as the text they
    were (trimmed; amounts normalised): a value that passes here is one PostgreSQL's date
    and numeric(12,2) accept. `blanks`: the empty trailing columns, which must stay empty."""
    plain, amount = _amount_sql(decimal_comma)
    empty = " AND ".join(f"{name} = ''" for name in (*CSV_COLUMNS, *(n for _, n in blanks)))
    stray = "".join(
        f"\n        WHEN trim({name}) <> '' THEN ['wrong_column_count', NULL,"
        f" format('a value in column {position}, which has no header: {{}}', {name})]"
        for position, name in blanks
    )
    return f"""
WITH trimmed AS (
    SELECT line, trim(transaction_id) AS tid, trim(account_id) AS account_id,
           trim(posted_date) AS d, description, merchant, category,
           trim(amount) AS a0, trim(currency) AS cur{"".join(f", {n}" for _, n in blanks)}
    FROM parsed
    -- a blank line: pyarrow gives it empty fields; it is skipped, not rejected
    WHERE NOT ({empty})
), src AS (
    SELECT *, {plain} AS plain, {amount} AS a FROM trimmed
)
SELECT tid, account_id, d, description, merchant, category, a, cur, line,
    CASE{stray}
        WHEN tid = '' THEN ['missing_field', 'transaction_id', 'transaction_id is empty']
        WHEN account_id = '' THEN ['missing_field', 'account_id', 'account_id is empty']
        WHEN d = '' THEN ['missing_field', 'posted_date', 'posted_date is empty']
        WHEN a0 = '' THEN ['missing_field', 'amount', 'amount is empty']
        WHEN cur = '' THEN ['missing_field', 'currency', 'currency is empty']
        WHEN length(d) <> 10 OR NOT regexp_full_match(d, '[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}')
             OR try_strptime(d, '%Y-%m-%d') IS NULL
            THEN ['bad_date', 'posted_date', format('{{}} is not a date (YYYY-MM-DD)', d)]
        WHEN d NOT BETWEEN '1900-01-01' AND '2999-12-31'
            THEN ['bad_date', 'posted_date', format('{{}} is out of range (1900 to 2999)', d)]
        WHEN NOT plain AND NOT regexp_full_match(a, '[+-]?[0-9]+(\\.[0-9]+)?')
            THEN ['bad_amount', 'amount', format('{{}} is not a number (like -12.50)', a0)]
        WHEN NOT plain AND regexp_full_match(a, '[+-]?[0-9]+\\.[0-9]{{3,}}')
            THEN ['bad_amount', 'amount', format('{{}} has more than 2 decimals', a0)]
        WHEN abs(CAST(a AS DOUBLE)) > $max_amount
            THEN ['amount_out_of_range', 'amount', format('{{}} does not fit numeric(12,2)', a0)]
        WHEN NOT list_contains($currencies, cur)
            THEN ['unknown_currency', 'currency', format('{{}} is not a known ISO 4217 code', cur)]
    END AS problem
FROM src
"""


_CHECK_PARAMS = {"max_amount": float(MAX_AMOUNT), "currencies": sorted(CURRENCIES)}

# The careful path: the same checks over the whole file, plus duplicates within it (the
# first line with an id wins).
_CAREFUL_SQL = """
CREATE TEMP TABLE checked AS
SELECT *, min(line) FILTER (WHERE problem IS NULL) OVER (PARTITION BY tid) AS first_line
FROM ({check})
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
class CsvLoad:
    rows: int  # loaded
    rejects: list[RowReject]  # in line order; rows + len(rejects) = the file's data records
    dialect: Dialect


class _Reparse(Exception):
    """The fast path cannot go on (a quoted value straddles its blocks): use the careful one."""


def _csv_options(records: Records, block_size: int, dialect: Dialect) -> dict:
    return {
        # Single-threaded: only then does pyarrow know each invalid record's number.
        "read_options": pacsv.ReadOptions(
            use_threads=False, block_size=block_size, column_names=dialect.names, skip_rows=1
        ),
        "parse_options": pacsv.ParseOptions(
            delimiter=dialect.delimiter,
            newlines_in_values=True,
            ignore_empty_lines=False,
            invalid_row_handler=records.on_invalid,
        ),
        "convert_options": pacsv.ConvertOptions(
            column_types=dict.fromkeys(dialect.names, pa.string()),
            include_columns=dialect.names,
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    }


def _records(source: Source, dialect: Dialect) -> Records:
    return Records(source, len(dialect.columns), dialect.delimiter)


def _copy_sql(table: str) -> str:
    return f"COPY {table} ({_COPY_COLUMNS}) FROM STDIN (FORMAT csv)"


def _csv_bytes(table: pa.Table) -> memoryview:
    buffer = io.BytesIO()
    pacsv.write_csv(table, buffer, pacsv.WriteOptions(include_header=False))
    return buffer.getbuffer()


def _reject(records: Records, line: int, problem: list[str]) -> RowReject:
    return records.source.reject(line, problem, records.multiline.get(line, 1))


def _fast(conn: psycopg.Connection, source: Source, dialect: Dialect) -> tuple[int, list]:
    records = _records(source, dialect)
    check = _check_sql(dialect.decimal_comma, dialect.blanks)
    rows, rejects = 0, []
    cursor = conn.cursor()
    with (
        duckdb.connect(config={"threads": 1}) as con,  # the other core is PostgreSQL's
        cursor.copy(_copy_sql("batch_transactions"), writer=QueuedLibpqWriter(cursor)) as copy,
    ):
        try:
            options = _csv_options(records, BLOCK_SIZE, dialect)
            for batch in pacsv.open_csv(pa.BufferReader(source.data), **options):
                con.register("parsed", records.place(batch))
                checked = con.sql(check, params=_CHECK_PARAMS).to_arrow_table()
                con.unregister("parsed")
                problems = checked["problem"]
                good = checked.drop_columns(["problem"])
                if problems.null_count < len(problems):  # some rows failed a check
                    good = good.filter(pc.is_null(problems))
                    bad = checked.filter(pc.is_valid(problems)).select(["line", "problem"])
                    rejects += [_reject(records, r["line"], r["problem"]) for r in bad.to_pylist()]
                if good.num_rows:
                    copy.write(_csv_bytes(good))  # returns at once: a thread sends it
                    rows += good.num_rows
        except pa.ArrowInvalid as error:
            raise _Reparse(str(error)) from None
        rejects += records.finish()
    return rows, rejects


def _careful(conn: psycopg.Connection, source: Source, dialect: Dialect) -> tuple[int, list]:
    records = _records(source, dialect)
    try:
        table = pacsv.read_csv(
            pa.BufferReader(source.data),
            **_csv_options(records, max(BLOCK_SIZE, len(source.data) + 1), dialect),
        )
    except pa.ArrowInvalid as error:
        raise BadFile("unparseable_csv", str(error).splitlines()[0]) from None
    placed = [records.place(batch) for batch in table.to_batches()]
    if not placed:  # no valid record at all: the rejects say why
        placed = [table.append_column("line", pa.array([], type=pa.int32()))]
    table = pa.concat_tables(placed)
    rejects = records.finish()
    with duckdb.connect() as con:
        con.register("parsed", table)
        con.execute(
            _CAREFUL_SQL.format(check=_check_sql(dialect.decimal_comma, dialect.blanks)),
            _CHECK_PARAMS,
        )
        good = con.sql(_CAREFUL_GOOD).to_arrow_table()
        rejects += [
            _reject(records, line, problem)
            for line, problem in con.execute(_CAREFUL_BAD).fetchall()
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
        _reject(
            records,
            line,
            [
                "duplicate_id_other_file",
                "transaction_id",
                f"transaction_id {tid} already loaded from {other} line {at}",
            ],
        )
        for line, tid, other, at in clashes
    ]
    return good.num_rows - len(clashes), rejects


def load_csv(conn: psycopg.Connection, data: bytes, *, source_file: str, sha256: str) -> CsvLoad:
    """Load one statement CSV inside the caller's transaction. Raises BadFile when the file
    as a whole is unusable."""
    text, dialect = check_text(data)
    source = Source(text)
    conn.execute(
        "SELECT set_config('stack.batch_file', %s, true),"
        " set_config('stack.batch_file_sha256', %s, true)",
        (source_file, sha256),
    )
    try:
        with conn.transaction():  # a savepoint: the fast path may stop (see the module doc)
            rows, rejects = _fast(conn, source, dialect)
    except (pgerrors.UniqueViolation, _Reparse):
        rows, rejects = _careful(conn, source, dialect)
    return CsvLoad(rows, sorted(rejects, key=lambda r: r.line), dialect)


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
