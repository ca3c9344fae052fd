"""The realtime tables can be created by several processes at once (consumers that start
together, the window process): CREATE TABLE IF NOT EXISTS alone is not safe for that."""

from __future__ import annotations

import threading

import psycopg

from stack.realtime.schema import ensure_schema
from tests.realtime.helpers import query


def test_concurrent_schema_creation_does_not_fail(settings):
    errors = []
    barrier = threading.Barrier(4)

    def create(autocommit: bool) -> None:
        try:
            with psycopg.connect(settings.postgres_conninfo(), autocommit=autocommit) as conn:
                barrier.wait()
                ensure_schema(conn)
        except Exception as error:  # collected: an assert in a thread would be lost
            errors.append(error)

    threads = [threading.Thread(target=create, args=(i % 2 == 0,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    tables = query(
        settings,
        "SELECT count(*) FROM pg_tables WHERE tablename IN"
        " ('transactions_sink', 'transactions_dlq', 'merchant_minute_totals')",
    )
    assert tables == [(3,)]
