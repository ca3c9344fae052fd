"""A parsed statement or invoice -> `documents` and `document_line_items`."""

from __future__ import annotations

import psycopg

from stack.batch.pdf_parse import ParsedPdf

_DOCUMENT_COLUMNS = (
    "title",
    "account_id",
    "vendor",
    "reference",
    "period_start",
    "period_end",
    "issued_on",
    "due_on",
    "currency",
    "opening_balance",
    "closing_balance",
    "subtotal",
    "tax",
    "total",
)


def write_document(conn: psycopg.Connection, doc: ParsedPdf) -> None:
    """Inside the caller's transaction: replace whatever an earlier version of the path wrote."""
    conn.execute("DELETE FROM documents WHERE path = %s", (doc.path,))  # line items cascade
    columns = ", ".join(_DOCUMENT_COLUMNS)
    placeholders = ", ".join(["%s"] * len(_DOCUMENT_COLUMNS))
    conn.execute(
        f"INSERT INTO documents (document_id, path, kind, page_count, text, {columns})"
        f" VALUES (%s, %s, %s, %s, %s, {placeholders})",
        (
            doc.sha256,
            doc.path,
            doc.kind,
            doc.page_count,
            doc.text.replace("\x00", ""),
            *(doc.fields.get(name) for name in _DOCUMENT_COLUMNS),
        ),
    )
    with conn.cursor().copy(
        "COPY document_line_items (document_id, line_no, item_date, description, quantity,"
        " unit_price, amount) FROM STDIN"
    ) as copy:
        for line in doc.lines:
            copy.write_row((doc.sha256, *line))
