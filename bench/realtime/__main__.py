"""Realtime speed against baselines measured in the same run, on the same broker and database.

- producer: `produce()` (generation included) vs raw confluent-kafka producing the same
  messages, pre-built, with the same client settings;
- write step: the sink's COPY into a temp table + `INSERT ... ON CONFLICT` vs the same COPY +
  `MERGE` (PostgreSQL only, rows already validated: the choice the issue asks to measure);
- consume: the stack's consumer (`consume()` without the window process: validation, upsert,
  DLQ, offsets after commit) vs Quix's `PostgreSQLSink(upsert_on_primary_key=True)` vs a Quix
  consumer that writes nothing (JSON values, as a typical Quix app; and raw bytes, Quix's bare
  per-message cost). Every consumer reads the same topic from the start with a new group and
  stops after the same number of messages; a rate runs from its first message to its last
  commit (joining the group is not consuming). Every application commits each second.

Each measurement runs --repeat times, interleaved; the best run counts (the machine is shared:
the best run is the least disturbed). Run: `just bench realtime` or
`hatch run python -m bench.realtime [--events N] [--repeat N]`.
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import psycopg
from confluent_kafka import Producer
from psycopg import sql
from quixstreams import Application
from quixstreams.sinks import BaseSink
from quixstreams.sinks.community.postgresql import PostgreSQLSink

from bench import bench_services
from stack.realtime.consumer import consume
from stack.realtime.generator import TransactionGenerator
from stack.realtime.producer import produce, producer_config
from stack.realtime.schema import ensure_schema
from stack.realtime.topics import FAST_GROUP, ensure_topic
from stack.realtime.writer import (
    COPY_SINK,
    SETUP_STAGES,
    STAGE_COLUMNS,
    STAGE_TYPES,
    UPSERT_SINK,
    sort_messages,
)
from stack.services.ephemeral import scratch_database
from stack.settings import Settings

START = datetime(2026, 3, 1, tzinfo=UTC)


def with_topic(settings: Settings, partitions: int) -> Settings:
    suffix = uuid.uuid4().hex[:8]
    return settings.model_copy(
        update={
            "transactions_topic": f"bench-{suffix}",
            "transactions_partitions": partitions,
            "consumer_group": f"bench-{suffix}",
        }
    )


# --- producer ------------------------------------------------------------------------------
def produce_stack(settings: Settings, events: int, partitions: int) -> float:
    return produce(with_topic(settings, partitions), count=events, seed=1, start=START).events_per_s


def produce_raw(settings: Settings, events: int, partitions: int) -> float:
    target = with_topic(settings, partitions)
    ensure_topic(target)
    messages = [(m.key, m.value) for m in TransactionGenerator(1, start=START).take(events)]
    producer = Producer(producer_config(target))
    topic = target.transactions_topic
    began = time.perf_counter()
    for key, value in messages:
        while True:
            try:
                producer.produce(topic, value, key)
                break
            except BufferError:
                producer.poll(0.05)
    assert producer.flush(60) == 0
    return events / (time.perf_counter() - began)


# --- write step ----------------------------------------------------------------------------
MERGE_SINK = sql.SQL(
    "MERGE INTO transactions_sink t USING (SELECT {values} FROM sink_stage) s"
    " ON t.transaction_id = s.transaction_id"
    " WHEN MATCHED AND s.version > t.version THEN UPDATE SET {sets},"
    " updated_at = clock_timestamp()"
    " WHEN NOT MATCHED THEN INSERT ({cols}) VALUES ({inserts})"
).format(
    values=sql.SQL(", ").join(
        sql.SQL("transaction_id::uuid AS transaction_id")
        if c == "transaction_id"
        else sql.SQL("amount::numeric(12,2) AS amount")
        if c == "amount"
        else sql.Identifier(c)
        for c in STAGE_COLUMNS
    ),
    sets=sql.SQL(", ").join(
        sql.SQL("{0} = s.{0}").format(sql.Identifier(c))
        for c in STAGE_COLUMNS
        if c != "transaction_id"
    ),
    cols=sql.SQL(", ").join(map(sql.Identifier, STAGE_COLUMNS)),
    inserts=sql.SQL(", ").join(sql.SQL("s.{}").format(sql.Identifier(c)) for c in STAGE_COLUMNS),
)


def write_step(settings: Settings, rows: list[tuple], statement: sql.Composable) -> tuple:
    """Rows/s of COPY + `statement`, for all-new rows then all-conflicting ones."""
    rates = []
    with (
        scratch_database(settings, "bench_") as db,
        psycopg.connect(db.postgres_conninfo()) as conn,
    ):
        ensure_schema(conn)
        conn.execute(SETUP_STAGES)
        conn.commit()
        types = [STAGE_TYPES.get(c, "text") for c in STAGE_COLUMNS]
        for _ in ("insert", "conflict"):
            began = time.perf_counter()
            for i in range(0, len(rows), 4000):
                with conn.cursor() as cursor:
                    with cursor.copy(COPY_SINK) as copy:
                        copy.set_types(types)
                        for row in rows[i : i + 4000]:
                            copy.write_row(row)
                    cursor.execute(statement)
                    cursor.execute("TRUNCATE sink_stage")
                conn.commit()
            rates.append(len(rows) / (time.perf_counter() - began))
    return tuple(rates)


# --- consume -------------------------------------------------------------------------------
class WriteNothing(BaseSink):
    def add(self, *args, **kwargs) -> None:
        pass

    def flush(self) -> None:
        pass


def quix_consumer(
    settings: Settings,
    topic: str,
    events: int,
    make_sink: Callable[[], BaseSink],
    deserializer: str,
) -> float:
    """msg/s of a Quix app reading `topic` into a sink, first message to last commit."""
    marks: dict[str, float] = {}
    seen = [0]

    def processed(*_args: object) -> None:
        marks.setdefault("first", time.monotonic())
        seen[0] += 1
        if seen[0] >= events:
            app.stop()

    app = Application(
        broker_address=settings.kafka_bootstrap_servers,
        consumer_group=f"bench-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        commit_interval=1.0,
        consumer_extra_config=FAST_GROUP,
        loglevel="ERROR",
        on_message_processed=processed,
        state_dir=settings.quix_state_dir,
    )
    app.dataframe(app.topic(topic, value_deserializer=deserializer, key_deserializer="bytes")).sink(
        make_sink()
    )
    app.run()
    return events / (time.monotonic() - marks["first"])


def postgresql_sink(db: Settings) -> PostgreSQLSink:
    return PostgreSQLSink(
        host=db.postgres_host,
        port=db.postgres_port,
        dbname=db.postgres_db,
        user=db.postgres_user,
        password=db.postgres_password.get_secret_value(),
        table_name="transactions_quix",
        primary_key_columns="transaction_id",
        upsert_on_primary_key=True,
    )


def consume_stack(settings: Settings, topic: str, events: int) -> float:
    with scratch_database(settings, "bench_") as db:
        target = db.model_copy(
            update={"transactions_topic": topic, "consumer_group": f"bench-{uuid.uuid4().hex[:8]}"}
        )
        summary = consume(target, max_messages=events, windows=False)
        assert summary.messages == events, summary
        return summary.messages_per_s


def consume_postgresql_sink(settings: Settings, topic: str, events: int) -> float:
    with scratch_database(settings, "bench_") as db:
        return quix_consumer(db, topic, events, lambda: postgresql_sink(db), "json")


# --- report --------------------------------------------------------------------------------
def best(runs: list[float]) -> float:
    return max(runs)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.realtime")
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--partitions", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    load_before = os.getloadavg()
    print(
        f"# realtime bench: {args.events:,} events, {args.partitions} partition(s), best of "
        f"{args.repeat}; {os.cpu_count()} cores, load average {load_before[0]:.2f}",
        flush=True,
    )
    with bench_services() as settings:
        runs: dict[str, list[float]] = {}

        def measure(name: str, function: Callable[[], float]) -> None:
            value = function()
            runs.setdefault(name, []).append(value)
            print(f"  {name}: {value:,.0f}", flush=True)

        for _ in range(args.repeat):
            measure(
                "producer: stack (generation included)",
                lambda: produce_stack(settings, args.events, args.partitions),
            )
            measure(
                "producer: raw confluent-kafka, pre-built messages",
                lambda: produce_raw(settings, args.events, args.partitions),
            )

        rows, _ = sort_messages(
            [
                (m.key, m.value, 0, i, None)
                for i, m in enumerate(
                    TransactionGenerator(2, update_ratio=0.0, start=START).take(args.events)
                )
            ],
            "bench",
        )
        for _ in range(args.repeat):
            upsert = write_step(settings, rows, UPSERT_SINK)
            merge = write_step(settings, rows, MERGE_SINK)
            for label, (inserted, conflicted) in (("upsert", upsert), ("merge", merge)):
                runs.setdefault(f"write: COPY + {label}, new rows", []).append(inserted)
                runs.setdefault(f"write: COPY + {label}, replayed rows", []).append(conflicted)
            print(
                f"  write: upsert {upsert[0]:,.0f} / {upsert[1]:,.0f}, merge {merge[0]:,.0f} / "
                f"{merge[1]:,.0f} rows/s (new / replayed)",
                flush=True,
            )

        source = with_topic(settings, args.partitions)
        produce(source, count=args.events, seed=3, start=START)  # valid: baselines need JSON
        topic = source.transactions_topic
        for _ in range(args.repeat):
            measure(
                "consume: stack (validate, upsert, DLQ)",
                lambda: consume_stack(settings, topic, args.events),
            )
            measure(
                "consume: Quix PostgreSQLSink, upsert",
                lambda: consume_postgresql_sink(settings, topic, args.events),
            )
            measure(
                "consume: Quix, write nothing, JSON values",
                lambda: quix_consumer(settings, topic, args.events, WriteNothing, "json"),
            )
            measure(
                "consume: Quix, write nothing, raw bytes",
                lambda: quix_consumer(settings, topic, args.events, WriteNothing, "bytes"),
            )

    b = {name: best(values) for name, values in runs.items()}
    stack_p, raw_p = (
        b["producer: stack (generation included)"],
        b["producer: raw confluent-kafka, pre-built messages"],
    )
    ours, quix_pg = (
        b["consume: stack (validate, upsert, DLQ)"],
        b["consume: Quix PostgreSQLSink, upsert"],
    )
    json_none, bytes_none = (
        b["consume: Quix, write nothing, JSON values"],
        b["consume: Quix, write nothing, raw bytes"],
    )
    print(
        f"\n# results (best of {args.repeat}; load average {load_before[0]:.2f} -> "
        f"{os.getloadavg()[0]:.2f})"
    )
    for name, value in b.items():
        print(f"{name:55s} {value:>12,.0f}/s")
    print("\n# ratios")
    print(
        f"producer, stack / raw confluent-kafka:            {stack_p / raw_p:5.2f}x  "
        "(target >= 0.7x)"
    )
    print(
        f"consume, stack / Quix PostgreSQLSink:             {ours / quix_pg:5.2f}x  (target >= 3x)"
    )
    # Each sink's own cost per message: its app's time per message minus that of the same app
    # writing nothing (same deserializer: PostgreSQLSink gets JSON, ours raw bytes).
    ours_cost = 1 / ours - 1 / bytes_none
    quix_cost = 1 / quix_pg - 1 / json_none
    print(
        f"sink cost per message, Quix PostgreSQLSink / stack: {quix_cost / ours_cost:5.2f}x  "
        f"({quix_cost * 1e6:.1f} us vs {ours_cost * 1e6:.1f} us)"
    )
    print(
        f"consume, stack / Quix writing nothing (JSON):     {ours / json_none:5.2f}x  "
        "(target >= 0.5x)"
    )
    print(f"consume, stack / Quix writing nothing (bytes):    {ours / bytes_none:5.2f}x")
    for label in ("new rows", "replayed rows"):
        upsert, merge = b[f"write: COPY + upsert, {label}"], b[f"write: COPY + merge, {label}"]
        print(
            f"write step, {label}: COPY + INSERT ON CONFLICT / COPY + MERGE: {upsert / merge:5.2f}x"
        )


if __name__ == "__main__":
    main()
