"""The batch pipeline's tables in PostgreSQL.

Convention shared by every source table (the warehouse loader relies on it): a primary key,
and `updated_at timestamptz NOT NULL` set to clock_timestamp() whenever the row is written.
"""

from __future__ import annotations

import psycopg

DDL = """
-- One row per file seen: the manifest that makes ingest idempotent.
CREATE TABLE IF NOT EXISTS ingest_files (
    path            text PRIMARY KEY,       -- relative to the incoming directory
    sha256          text NOT NULL,
    size_bytes      bigint NOT NULL,
    kind            text NOT NULL,          -- csv | statement | invoice | unknown
    status          text NOT NULL,          -- loaded | failed
    rows            integer NOT NULL DEFAULT 0,
    rejected_rows   integer NOT NULL DEFAULT 0,
    error           text,                   -- why the file failed (status = failed)
    ingested_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- CSV statement rows, typed, with where each came from.
CREATE TABLE IF NOT EXISTS batch_transactions (
    transaction_id  text PRIMARY KEY,
    account_id      text NOT NULL,
    posted_date     date NOT NULL,
    description     text NOT NULL,
    merchant        text NOT NULL,
    category        text NOT NULL,
    amount          numeric(12,2) NOT NULL,
    currency        text NOT NULL,
    source_file     text NOT NULL REFERENCES ingest_files (path),
    source_line     integer NOT NULL,
    file_sha256     text NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS batch_transactions_updated_at_idx
    ON batch_transactions (updated_at, transaction_id);
CREATE INDEX IF NOT EXISTS batch_transactions_source_file_idx ON batch_transactions (source_file);

-- PDF documents (account statements and invoices) with their extracted text.
CREATE TABLE IF NOT EXISTS documents (
    document_id     text PRIMARY KEY,       -- sha256 of the file's bytes
    path            text NOT NULL UNIQUE REFERENCES ingest_files (path),
    kind            text NOT NULL,          -- statement | invoice
    title           text,
    account_id      text,                   -- statements
    vendor          text,                   -- invoices
    reference       text,                   -- invoice number / statement number
    period_start    date,
    period_end      date,
    issued_on       date,
    due_on          date,
    currency        text,
    opening_balance numeric(12,2),          -- statements
    closing_balance numeric(12,2),          -- statements
    subtotal        numeric(12,2),          -- invoices
    tax             numeric(12,2),          -- invoices
    total           numeric(12,2),          -- the stated total the line items add up to
    page_count      integer NOT NULL,
    text            text NOT NULL,          -- all pages' text, pages separated by form feeds
    updated_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS documents_updated_at_idx ON documents (updated_at, document_id);

-- The line-item tables inside the PDFs.
CREATE TABLE IF NOT EXISTS document_line_items (
    document_id     text NOT NULL REFERENCES documents (document_id) ON DELETE CASCADE,
    line_no         integer NOT NULL,
    item_date       date,
    description     text NOT NULL,
    quantity        numeric(12,3),
    unit_price      numeric(12,2),
    amount          numeric(12,2) NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (document_id, line_no)
);
CREATE INDEX IF NOT EXISTS document_line_items_updated_at_idx
    ON document_line_items (updated_at, document_id, line_no);

-- Rows that could not load, with the raw text and why: nothing is lost.
CREATE TABLE IF NOT EXISTS ingest_rejects (
    reject_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    file            text NOT NULL,
    file_sha256     text NOT NULL,
    line            integer,
    reason          text NOT NULL,          -- a stable kind: wrong_column_count, bad_date, ...
    detail          text NOT NULL,
    raw             text,
    rejected_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS ingest_rejects_updated_at_idx ON ingest_rejects (updated_at, reject_id);
"""


def ensure_schema(conn: psycopg.Connection) -> None:
    """Create the batch tables if missing (idempotent)."""
    conn.execute(DDL)
