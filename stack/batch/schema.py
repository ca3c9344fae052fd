"""The batch pipeline's tables in PostgreSQL.

Convention shared by every source table (the warehouse loader relies on it): a primary key,
and `updated_at timestamptz NOT NULL` set to clock_timestamp() whenever the row is written.
"""

from __future__ import annotations

import psycopg

from stack.db import apply_ddl

DDL = """
-- One row per file seen: the manifest that makes ingest idempotent.
CREATE TABLE IF NOT EXISTS ingest_files (
    path            text PRIMARY KEY,       -- relative to the incoming directory
    sha256          text NOT NULL,          -- of the version last seen under this path
    size_bytes      bigint NOT NULL,
    kind            text NOT NULL,          -- csv | statement | invoice | pdf | unknown
    status          text NOT NULL,          -- loaded | failed (refused) | error (the stack's fault)
    rows            integer NOT NULL DEFAULT 0,  -- transactions (csv) or line items (pdf)
    rejected_rows   integer NOT NULL DEFAULT 0,  -- a CSV's rows + rejected_rows = its records
    reason          text,                   -- failed/error: a stable code (empty_csv, ...)
    error           text,                   -- failed/error: the code and where (line, field)
    moved_to        text,                   -- failed: where the file went (the rejected dir)
    ingested_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);
-- A loaded CSV's form: "comma", "semicolon, decimal comma", "comma, utf-16", ...
ALTER TABLE ingest_files ADD COLUMN IF NOT EXISTS dialect text;

-- CSV statement rows, typed, with where each came from. The bulk table, tuned for COPY:
-- source_file and file_sha256 default to settings the ingest sets once per file (SET LOCAL
-- stack.batch_file / stack.batch_file_sha256), so the COPY stream does not repeat them on
-- every row; source_file names an ingest_files.path, written in the same transaction (no
-- foreign key: its per-row check would cost more than the rest of the load); BRIN indexes
-- (rows arrive in file and time order) cost almost nothing to maintain.
CREATE TABLE IF NOT EXISTS batch_transactions (
    transaction_id  text PRIMARY KEY,
    account_id      text NOT NULL,
    posted_date     date NOT NULL,
    description     text NOT NULL,
    merchant        text NOT NULL,
    category        text NOT NULL,
    amount          numeric(12,2) NOT NULL,
    currency        text NOT NULL,
    source_file     text NOT NULL DEFAULT current_setting('stack.batch_file')
                    CHECK (source_file <> ''),
    source_line     integer NOT NULL,
    file_sha256     text NOT NULL DEFAULT current_setting('stack.batch_file_sha256')
                    CHECK (file_sha256 <> ''),
    updated_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS batch_transactions_updated_at_idx
    ON batch_transactions USING brin (updated_at);
CREATE INDEX IF NOT EXISTS batch_transactions_source_file_idx
    ON batch_transactions USING brin (source_file);

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
    file            text NOT NULL,          -- ingest_files.path
    file_sha256     text NOT NULL,
    line            integer,                -- 1 is the header
    field           text,                   -- the column at fault (none: the whole line)
    reason          text NOT NULL,          -- a stable kind: wrong_column_count, bad_date, ...
    detail          text NOT NULL,
    raw             text,                   -- the line as it was in the file
    rejected_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS ingest_rejects_updated_at_idx ON ingest_rejects (updated_at, reject_id);
CREATE INDEX IF NOT EXISTS ingest_rejects_file_idx ON ingest_rejects (file);
"""


def ensure_schema(conn: psycopg.Connection) -> None:
    """Create the batch tables if missing (idempotent; safe when run concurrently)."""
    apply_ddl(conn, DDL, name="stack.batch.schema")
