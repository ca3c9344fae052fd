"""Loads while writers keep committing, long transactions included: nothing may be missed."""

from __future__ import annotations

import random
import threading
import time

import duckdb

from stack.db import connect
from stack.warehouse.load import load
from tests.warehouse import sources
from tests.warehouse.helpers import assert_duckdb_equals_source, source_table

WRITERS = 3
ROUNDS = 15


def _writer(settings, number: int, stop: threading.Event, errors: list) -> None:
    rng = random.Random(number)
    sequence = 0
    try:
        with connect(settings, autocommit=True) as conn:
            while not stop.is_set():
                with conn.transaction():
                    first = 1_000_000 * (number + 1) + sequence
                    sequence += rng.randint(1, 6)
                    sources.add_realtime(conn, first, 1_000_000 * (number + 1) + sequence - 1)
                    conn.execute(
                        "UPDATE transactions_sink SET amount = amount + 1, version = version + 1,"
                        " updated_at = clock_timestamp() WHERE kafka_offset = ANY(%s)",
                        ([rng.randint(1, 200) for _ in range(3)],),
                    )
                    if rng.random() < 0.4:
                        # Long transaction: its rows carry timestamps from before the sleep
                        # and become visible only after loads have moved past them.
                        time.sleep(rng.uniform(0.2, 1.2))
                time.sleep(rng.uniform(0, 0.02))
    except Exception as error:  # reported by the test
        errors.append(error)


def test_concurrent_writers_over_many_loads_then_final_load_equals_source(settings):
    with connect(settings, autocommit=True) as conn:
        sources.create_sources(conn)
        sources.add_realtime(conn, 1, 200)
    stop = threading.Event()
    errors: list = []
    writers = [
        threading.Thread(target=_writer, args=(settings, n, stop, errors)) for n in range(WRITERS)
    ]
    for thread in writers:
        thread.start()
    seen_after_load = []  # what each load left in the warehouse: {key: updated_at}, max
    held_back = 0
    try:
        for _ in range(ROUNDS):
            summary = load(settings, tables=["transactions_sink"])
            held_back += summary.held_back_to is not None
            con = duckdb.connect(str(settings.warehouse_duckdb_path), read_only=True)
            rows = dict(
                con.execute(
                    "SELECT transaction_id, updated_at FROM raw.transactions_sink"
                ).fetchall()
            )
            con.close()
            seen_after_load.append((rows, max(rows.values())))
            time.sleep(0.15)
    finally:
        stop.set()
        for thread in writers:
            thread.join()
    assert not errors, errors

    load(settings, tables=["transactions_sink"])

    assert_duckdb_equals_source(settings, ["transactions_sink"])
    # The run was adversarial: some final row versions committed after a load that had already
    # seen newer timestamps, so a naive `updated_at > max(updated_at)` cursor would have lost
    # them for good. (This asserts the scenario, not the loader.)
    columns, final = source_table(settings, "transactions_sink")
    key, stamp = columns.index("transaction_id"), columns.index("updated_at")
    naive_misses = {
        row[key]
        for row in final
        for present, high in seen_after_load
        if row[stamp] < high
        and present.get(row[key]) != row[stamp]
        and row[stamp] <= max(present.values())
    }
    assert naive_misses, "no late commit happened: the scenario did not test anything"
    assert held_back > 0
