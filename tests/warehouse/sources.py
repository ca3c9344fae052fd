"""Source data for the warehouse tests, written with SQL straight into the pipelines' tables
(created by their own `ensure_schema`): fast, deterministic, independent of Kafka and files.

The values follow the pipelines' conventions: realtime card payments are positive amounts with
a status; batch statement lines are signed (negative: money out); a document's id is the
sha256 of its file; a replaced file's rows are deleted and re-inserted in one transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from decimal import Decimal

import psycopg

from stack.batch.schema import ensure_schema as ensure_batch_schema
from stack.realtime.schema import ensure_schema as ensure_realtime_schema

UTC = dt.UTC
RT_CATEGORIES = ("grocery", "restaurants", "travel", "fuel", "electronics")
BATCH_CATEGORIES = ("groceries", "restaurants", "transport", "salary", "utilities")
STATUSES = ("authorized", "captured", "refunded", "declined")
BASE_TIME = dt.datetime(2026, 9, 1, tzinfo=UTC)


def create_sources(conn: psycopg.Connection) -> None:
    ensure_realtime_schema(conn)
    ensure_batch_schema(conn)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def realtime_id(offset: int) -> str:
    """The transaction id add_realtime gives the row at `offset`: md5('rt-<offset>')::uuid."""
    return str(uuid.UUID(hashlib.md5(f"rt-{offset}".encode()).hexdigest()))


def add_realtime(conn: psycopg.Connection, start: int, stop: int) -> None:
    """Transactions start..stop (inclusive) in transactions_sink, plus their minute windows."""
    conn.execute(
        """
        INSERT INTO transactions_sink (transaction_id, account_id, customer_name, merchant,
            category, amount, currency, country, status, created_at, event_time, version,
            schema_version, kafka_partition, kafka_offset)
        SELECT md5('rt-' || i)::uuid,
               'AC-' || lpad((i %% 12)::text, 6, '0'),
               'Customer ' || (i %% 12),
               'Merchant ' || (i %% 9),
               (%(categories)s::text[])[1 + i %% 5],
               ((i * 7919) %% 50000) / 100.0 + 1,
               (ARRAY['EUR', 'USD'])[1 + i %% 2],
               (ARRAY['FR', 'US'])[1 + i %% 2],
               (%(statuses)s::text[])[1 + (i / 3) %% 4],
               %(base)s::timestamptz + i * interval '97 minutes',
               %(base)s::timestamptz + i * interval '97 minutes',
               1, 1, i %% 3, i
        FROM generate_series(%(start)s::bigint, %(stop)s::bigint) AS i
        """,
        {
            "categories": list(RT_CATEGORIES),
            "statuses": list(STATUSES),
            "base": BASE_TIME,
            "start": start,
            "stop": stop,
        },
    )
    conn.execute(
        """
        INSERT INTO merchant_minute_totals (merchant, window_start, window_end, transactions,
            amount_sum)
        SELECT merchant, date_trunc('minute', created_at),
               date_trunc('minute', created_at) + interval '1 minute', count(*), sum(amount)
        FROM transactions_sink
        WHERE kafka_offset BETWEEN %(start)s AND %(stop)s
        GROUP BY 1, 2
        ON CONFLICT (merchant, window_start) DO UPDATE SET
            transactions = merchant_minute_totals.transactions + excluded.transactions,
            amount_sum = merchant_minute_totals.amount_sum + excluded.amount_sum,
            updated_at = clock_timestamp()
        """,
        {"start": start, "stop": stop},
    )


def add_dlq(conn: psycopg.Connection, count: int, topic: str = "transactions") -> None:
    conn.execute(
        """
        INSERT INTO transactions_dlq (topic, kafka_partition, kafka_offset, kafka_key,
            raw_payload, reason, detail)
        SELECT %(topic)s, 0, coalesce((SELECT max(kafka_offset) FROM transactions_dlq), 0) + i,
               CASE WHEN i %% 2 = 0 THEN NULL ELSE '\\x00ff'::bytea END,
               convert_to('{"bad": "json' || i || E'\\n"', 'UTF8'),
               (ARRAY['not_json', 'missing_field'])[1 + i %% 2], 'detail ' || i
        FROM generate_series(1, %(count)s::int) AS i
        """,
        {"topic": topic, "count": count},
    )


def account_of(path: str) -> str:
    """The account a statement file belongs to: named by the file, whatever the month."""
    return f"ACC-{100000 + int(sha(path.rsplit('/', 1)[-1])[:5], 16) % 900000}"


def csv_rows(path: str, version: int, lines: range) -> list[tuple]:
    """The rows a CSV statement file holds in a given version (ids are stable across versions
    for the same line number, as a bank's would be; amounts change with the version)."""
    account = account_of(path)
    rows = []
    for line in lines:
        category = BATCH_CATEGORIES[line % len(BATCH_CATEGORIES)]
        amount = (
            Decimal(2500 + version)
            if category == "salary"
            else -Decimal(f"{(line * 37) % 200 + version}.{line % 100:02d}")
        )
        rows.append(
            (
                f"{path}#{line}",
                account,
                (dt.date(2026, 9, 1) + dt.timedelta(days=line % 60)),
                f"line {line} of {path}",
                f"Shop {line % 6}",
                category,
                amount,
                "EUR",
                line + 1,
            )
        )
    return rows


def write_csv_file(
    conn: psycopg.Connection, path: str, version: int, lines: range, rejects: int = 0
) -> str:
    """What the batch ingest does for one CSV file, in one transaction: the manifest row, the
    earlier version's rows and rejects deleted, this version's rows and rejects inserted."""
    digest = sha(f"{path}@{version}")
    rows = csv_rows(path, version, lines)
    with conn.transaction():
        conn.execute(
            """
            INSERT INTO ingest_files (path, sha256, size_bytes, kind, status, rows, rejected_rows)
            VALUES (%s, %s, %s, 'csv', 'loaded', %s, %s)
            ON CONFLICT (path) DO UPDATE SET sha256 = excluded.sha256,
                size_bytes = excluded.size_bytes, status = 'loaded', rows = excluded.rows,
                rejected_rows = excluded.rejected_rows, updated_at = clock_timestamp()
            """,
            (path, digest, 1000 + len(rows), len(rows), rejects),
        )
        conn.execute("DELETE FROM batch_transactions WHERE source_file = %s", (path,))
        conn.execute("DELETE FROM ingest_rejects WHERE file = %s", (path,))
        with conn.cursor().copy(
            "COPY batch_transactions (transaction_id, account_id, posted_date, description,"
            " merchant, category, amount, currency, source_line, source_file, file_sha256)"
            " FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row((*row, path, digest))
        for number in range(rejects):
            conn.execute(
                "INSERT INTO ingest_rejects (file, file_sha256, line, reason, detail, raw)"
                " VALUES (%s, %s, %s, 'bad_date', 'posted_date 2026-13-01 is not a date', %s)",
                (path, digest, 900 + number, f"2026-13-01,{number},x"),
            )
    return digest


def fail_file(conn: psycopg.Connection, path: str, version: int) -> None:
    """A broken redelivery of `path`: the manifest records the failure, earlier rows stay."""
    conn.execute(
        "UPDATE ingest_files SET sha256 = %s, status = 'failed', reason = 'empty_csv',"
        " error = 'empty_csv: no rows', moved_to = %s, updated_at = clock_timestamp()"
        " WHERE path = %s",
        (sha(f"{path}@{version}"), f"data/rejected/{path}", path),
    )


def write_document(conn: psycopg.Connection, path: str, version: int, kind: str, lines: int) -> str:
    """What the batch ingest does for one PDF: replace the document of that path (its line
    items go by cascade) with this version's."""
    digest = sha(f"{path}@{version}")
    items = [
        (
            n,
            dt.date(2026, 9, 1) + dt.timedelta(days=n),
            f"item {n}",
            Decimal(n),
            Decimal(f"{10 + version}.50"),
            Decimal(n) * Decimal(f"{10 + version}.50"),
        )
        for n in range(1, lines + 1)
    ]
    total = sum(item[5] for item in items)
    with conn.transaction():
        conn.execute(
            """
            INSERT INTO ingest_files (path, sha256, size_bytes, kind, status, rows)
            VALUES (%s, %s, 5000, %s, 'loaded', %s)
            ON CONFLICT (path) DO UPDATE SET sha256 = excluded.sha256, kind = excluded.kind,
                status = 'loaded', rows = excluded.rows, updated_at = clock_timestamp()
            """,
            (path, digest, kind, lines),
        )
        conn.execute("DELETE FROM documents WHERE path = %s", (path,))
        statement = kind == "statement"
        conn.execute(
            """
            INSERT INTO documents (document_id, path, kind, title, account_id, vendor, reference,
                period_start, period_end, issued_on, due_on, currency, opening_balance,
                closing_balance, subtotal, tax, total, page_count, text)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'EUR', %s, %s, %s, %s, %s, 1, %s)
            """,
            (
                digest,
                path,
                kind,
                f"{kind} {path}",
                account_of("ACC-a.csv") if statement else None,
                None if statement else "Vendor A",
                f"REF-{version}",
                dt.date(2026, 9, 1) if statement else None,
                dt.date(2026, 9, 30) if statement else None,
                dt.date(2026, 10, 1),
                None if statement else dt.date(2026, 10, 31),
                Decimal("100.00") if statement else None,
                Decimal("100.00") - total if statement else None,
                None if statement else total,
                None if statement else Decimal("0.00"),
                total,
                f"text of {path}\fpage 2",
            ),
        )
        with conn.cursor().copy(
            "COPY document_line_items (document_id, line_no, item_date, description, quantity,"
            " unit_price, amount) FROM STDIN"
        ) as copy:
            for item in items:
                copy.write_row((digest, *item))
    return digest


def add_readable_dead_letters(conn: psycopg.Connection) -> None:
    """Dead letters whose payload still says what they claimed (one amount is junk)."""
    for offset, payload in (
        (101, b'{"transaction_id": "t-1", "amount": "12.50"}'),
        (102, b'{"transaction_id": "t-2", "amount": "12,50"}'),
        (103, b"\xff\xfe not text"),
    ):
        conn.execute(
            "INSERT INTO transactions_dlq (topic, kafka_partition, kafka_offset, raw_payload,"
            " reason, detail) VALUES ('transactions', 1, %s, %s, 'invalid_amount', 'x')",
            (offset, payload),
        )


def seed(conn: psycopg.Connection, realtime: int = 300) -> None:
    """Every source table with some rows."""
    create_sources(conn)
    add_realtime(conn, 1, realtime)
    add_dlq(conn, 5)
    write_csv_file(conn, "2026-09/ACC-a.csv", 1, range(1, 41), rejects=2)
    write_csv_file(conn, "2026-09/ACC-bb.csv", 1, range(1, 31))
    write_document(conn, "2026-09/statement-a.pdf", 1, "statement", 4)
    write_document(conn, "2026-09/invoice-1.pdf", 1, "invoice", 3)


def change(conn: psycopg.Connection) -> None:
    """Updates and inserts everywhere, the way the pipelines make them."""
    conn.execute(
        "UPDATE transactions_sink SET status = 'captured', version = version + 1,"
        " amount = amount + 0.01, updated_at = clock_timestamp() WHERE kafka_offset % 10 = 0"
    )
    start = conn.execute("SELECT max(kafka_offset) + 1 FROM transactions_sink").fetchall()[0][0]
    add_realtime(conn, start, start + 49)
    add_dlq(conn, 2)
    write_csv_file(conn, "2026-09/ACC-a.csv", 2, range(1, 36), rejects=1)  # 5 lines fewer
    write_csv_file(conn, "2026-10/ACC-a.csv", 1, range(1, 21))
    write_document(conn, "2026-09/invoice-1.pdf", 2, "invoice", 2)
