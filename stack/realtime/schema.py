"""The realtime pipeline's tables in PostgreSQL.

Convention shared by every source table (the warehouse loader relies on it): a primary key,
and `updated_at timestamptz NOT NULL` set to clock_timestamp() whenever the row is written.
"""

from __future__ import annotations

import psycopg

from stack.db import apply_ddl

DDL = """
-- The newest state of each transaction: upserted, and an older version never wins.
CREATE TABLE IF NOT EXISTS transactions_sink (
    transaction_id  uuid PRIMARY KEY,
    account_id      text NOT NULL,
    customer_name   text NOT NULL,
    merchant        text NOT NULL,
    category        text NOT NULL,
    amount          numeric(12,2) NOT NULL,
    currency        text NOT NULL,          -- ISO 4217
    country         text NOT NULL,          -- ISO 3166-1 alpha-2
    status          text NOT NULL,          -- authorized | captured | refunded | declined
    created_at      timestamptz NOT NULL,   -- event time of version 1
    event_time      timestamptz NOT NULL,   -- event time of the version held here
    version         integer NOT NULL,
    schema_version  smallint NOT NULL,
    kafka_partition integer NOT NULL,
    kafka_offset    bigint NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT clock_timestamp()  -- written to the sink
);
CREATE INDEX IF NOT EXISTS transactions_sink_updated_at_idx
    ON transactions_sink (updated_at, transaction_id);

-- Events that failed validation: the raw bytes and why, so nothing is lost.
CREATE TABLE IF NOT EXISTS transactions_dlq (
    dlq_id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic           text NOT NULL,
    kafka_partition integer NOT NULL,
    kafka_offset    bigint NOT NULL,
    kafka_key       bytea,
    raw_payload     bytea,
    reason          text NOT NULL,          -- a stable kind: not_json, missing_field, ...
    detail          text NOT NULL,          -- what exactly was wrong
    failed_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    UNIQUE (topic, kafka_partition, kafka_offset)  -- a replayed bad event lands once
);
CREATE INDEX IF NOT EXISTS transactions_dlq_updated_at_idx
    ON transactions_dlq (updated_at, dlq_id);

-- Per-merchant one-minute tumbling windows over new transactions (version 1, by created_at).
CREATE TABLE IF NOT EXISTS merchant_minute_totals (
    merchant        text NOT NULL,
    window_start    timestamptz NOT NULL,
    window_end      timestamptz NOT NULL,
    transactions    bigint NOT NULL,
    amount_sum      numeric(14,2) NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (merchant, window_start)
);
CREATE INDEX IF NOT EXISTS merchant_minute_totals_updated_at_idx
    ON merchant_minute_totals (updated_at, merchant, window_start);
"""


def ensure_schema(conn: psycopg.Connection) -> None:
    """Create the realtime tables if missing (idempotent; safe when run concurrently)."""
    apply_ddl(conn, DDL, name="stack.realtime.schema")
