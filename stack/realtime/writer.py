"""Writing consumed messages to PostgreSQL: validate, then COPY + upsert in one transaction.

A `SinkWriter` holds one connection and one open transaction per checkpoint. Each chunk of
raw messages is validated; valid events are deduplicated (highest version per transaction
wins within the chunk), COPYed in binary into a temp table and upserted into
`transactions_sink` with `ON CONFLICT ... WHERE excluded.version > transactions_sink.version`
(an older or replayed event never overwrites a newer one); rejects go to `transactions_dlq`.
`commit()` makes the whole checkpoint durable at once: only after it may Kafka offsets be
committed.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from stack.db import connect
from stack.errors import ServiceError
from stack.realtime.events import Rejected, TransactionEvent, validate
from stack.realtime.schema import ensure_schema
from stack.settings import Settings

# One raw Kafka message as the sink hands it over: key, value, partition, offset.
RawMessage = tuple[bytes | None, bytes | None, int, int]

# Validated events arrive as dicts in the schema's field order (pydantic builds them so);
# a stage row is those values plus where the message came from.
EVENT_FIELDS = tuple(TransactionEvent.__annotations__)
STAGE_COLUMNS = (*EVENT_FIELDS, "kafka_partition", "kafka_offset")
STAGE_TYPES = {
    "schema_version": "int2",
    "created_at": "timestamptz",
    "event_time": "timestamptz",
    "version": "int4",
    "kafka_partition": "int4",
    "kafka_offset": "int8",
}  # the others are text
STAGE_TYPE_NAMES = [STAGE_TYPES.get(c, "text") for c in STAGE_COLUMNS]
# How each sink column is computed from the stage (transaction_id and amount travel as text).
SINK_VALUES = {"transaction_id": "transaction_id::uuid", "amount": "amount::numeric(12,2)"}
SINK_COLUMNS = STAGE_COLUMNS  # the same names in transactions_sink
DLQ_COLUMNS = (
    "topic",
    "kafka_partition",
    "kafka_offset",
    "kafka_key",
    "raw_payload",
    "reason",
    "detail",
)
DLQ_TYPES = ("text", "int4", "int8", "bytea", "bytea", "text", "text")


def _ids(names: tuple[str, ...]) -> sql.Composable:
    return sql.SQL(", ").join(map(sql.Identifier, names))


# Session-local stage tables, no constraints; emptied after each chunk.
SETUP_STAGES = sql.SQL(
    "CREATE TEMP TABLE IF NOT EXISTS sink_stage ({sink});"
    " CREATE TEMP TABLE IF NOT EXISTS dlq_stage AS SELECT {dlq} FROM transactions_dlq WITH NO DATA"
).format(
    sink=sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(STAGE_TYPES.get(c, "text")))
        for c in STAGE_COLUMNS
    ),
    dlq=_ids(DLQ_COLUMNS),
)
COPY_SINK = sql.SQL("COPY sink_stage FROM STDIN (FORMAT BINARY)")
COPY_DLQ = sql.SQL("COPY dlq_stage ({}) FROM STDIN (FORMAT BINARY)").format(_ids(DLQ_COLUMNS))
UPSERT_SINK = sql.SQL(
    "INSERT INTO transactions_sink ({cols}) SELECT {values} FROM sink_stage"
    " ON CONFLICT (transaction_id) DO UPDATE SET {sets}, updated_at = clock_timestamp()"
    " WHERE excluded.version > transactions_sink.version"
).format(
    cols=_ids(SINK_COLUMNS),
    values=sql.SQL(", ").join(
        sql.SQL(SINK_VALUES[c]) if c in SINK_VALUES else sql.Identifier(c) for c in SINK_COLUMNS
    ),
    sets=sql.SQL(", ").join(
        sql.SQL("{0} = excluded.{0}").format(sql.Identifier(c))
        for c in SINK_COLUMNS
        if c != "transaction_id"
    ),
)
INSERT_DLQ = sql.SQL(
    "INSERT INTO transactions_dlq ({cols}) SELECT {cols} FROM dlq_stage"
    " ON CONFLICT (topic, kafka_partition, kafka_offset) DO NOTHING"
).format(cols=_ids(DLQ_COLUMNS))
CLEAR_STAGES = sql.SQL("TRUNCATE sink_stage, dlq_stage")


@dataclass
class WriteCounts:
    """What one checkpoint (or a whole run, summed) did."""

    messages: int = 0
    valid: int = 0  # valid events (before deduplication within a chunk)
    rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def add(self, other: WriteCounts) -> None:
        self.messages += other.messages
        self.valid += other.valid
        self.rejected += other.rejected
        for reason, count in other.reasons.items():
            self.reasons[reason] = self.reasons.get(reason, 0) + count


def sort_messages(messages: list[RawMessage], topic: str) -> tuple[list[tuple], list[tuple]]:
    """Validate a chunk: (stage rows, only the newest version of each transaction; dead-letter
    rows). The hot loop of the consumer: keep it lean."""
    newest: dict[str, tuple] = {}
    dead: list[tuple] = []
    version_at = EVENT_FIELDS.index("version")
    for key, value, partition, offset in messages:
        event = validate(key, value)
        if type(event) is Rejected:
            dead.append((topic, partition, offset, key, value, event.reason, event.detail))
            continue
        tid = event["transaction_id"]
        kept = newest.get(tid)
        # Equal versions: the first one stays, as in the upsert (a replay changes nothing).
        if kept is None or event["version"] > kept[version_at]:
            newest[tid] = (*event.values(), partition, offset)
    return list(newest.values()), dead


class SinkWriter:
    """One PostgreSQL connection writing checkpoints of raw messages (see module doc)."""

    def __init__(self, settings: Settings, topic: str) -> None:
        self.settings = settings
        self.topic = topic
        self.conn: psycopg.Connection | None = None
        self.pending = WriteCounts()  # written in the open transaction, not yet committed

    def open(self) -> None:
        """Connect (if needed) and make sure the tables and the stage tables exist."""
        if self.conn is not None and not self.conn.closed:
            return
        self.conn = connect(self.settings)
        ensure_schema(self.conn)
        self.conn.execute(SETUP_STAGES)
        self.conn.commit()

    def write(self, messages: list[RawMessage]) -> None:
        """Validate and stage a chunk in the open transaction (not durable until commit)."""
        self.store(*sort_messages(messages, self.topic), messages=len(messages))

    def store(self, rows: list[tuple], dead: list[tuple], *, messages: int) -> None:
        """Stage a chunk already sorted by `sort_messages` (of `messages` messages)."""
        self.open()
        with self.conn.cursor() as cursor:
            if rows:
                with cursor.copy(COPY_SINK) as copy:
                    copy.set_types(STAGE_TYPE_NAMES)
                    for row in rows:
                        copy.write_row(row)
                cursor.execute(UPSERT_SINK)
            if dead:
                with cursor.copy(COPY_DLQ) as copy:
                    copy.set_types(DLQ_TYPES)
                    for row in dead:
                        copy.write_row(row)
                cursor.execute(INSERT_DLQ)
            if rows or dead:
                cursor.execute(CLEAR_STAGES)
        counts = self.pending
        counts.messages += messages
        counts.valid += messages - len(dead)
        counts.rejected += len(dead)
        for row in dead:
            counts.reasons[row[5]] = counts.reasons.get(row[5], 0) + 1

    def commit(self) -> WriteCounts:
        """Make everything written since the last commit durable; return what it held."""
        if self.conn is not None and not self.conn.closed:
            self.conn.commit()
        done, self.pending = self.pending, WriteCounts()
        return done

    def abandon(self) -> None:
        """Forget the open transaction (after an error): roll back, drop the connection."""
        self.pending = WriteCounts()
        if self.conn is not None:
            with contextlib.suppress(psycopg.Error):
                self.conn.close()  # closing without commit rolls back
            self.conn = None

    def close(self) -> None:
        self.abandon()


def is_connection_problem(error: BaseException) -> bool:
    """True for errors that waiting can cure: PostgreSQL down, restarting, unreachable."""
    if isinstance(error, ServiceError):
        return True
    if isinstance(error, psycopg.OperationalError):
        return True
    if isinstance(error, psycopg.errors.AdminShutdown | psycopg.errors.CannotConnectNow):
        return True
    # A deadlock or serialization failure between two consumers is worth a retry too.
    return isinstance(error, psycopg.errors.DeadlockDetected | psycopg.errors.SerializationFailure)


def backoff(attempt: int, base: float = 0.5, cap: float = 10.0) -> float:
    """Seconds to wait before retry number `attempt` (1, 2, ...): doubling, capped."""
    return min(cap, base * (2 ** max(0, attempt - 1)))
