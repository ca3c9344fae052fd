"""Writing consumed messages to PostgreSQL: validate, then COPY + upsert, then COMMIT.

A `SinkWriter` holds one connection. Each batch of raw messages is validated; valid events are
deduplicated (highest version per transaction wins within the batch), COPYed in binary into a
temp table and upserted into `transactions_sink` with `ON CONFLICT ... WHERE excluded.version >
transactions_sink.version` (an older or replayed event never overwrites a newer one); rejects
go to `transactions_dlq`. A later version that changes what every version must keep
(merchant, amount, created_at) is a reject too (`conflicting_update`): the window totals count
a transaction once, with the values of the first version they see, and the sink must agree
with them. `commit()` makes the batch durable and visible; Kafka offsets may be committed only
for messages whose batch has committed (writer_process.py keeps that order).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from decimal import Decimal

import psycopg
from psycopg import sql

from stack.db import connect
from stack.errors import ServiceError
from stack.realtime.events import DEFAULT_CLOCK_SKEW_S, Rejected, TransactionEvent, validate
from stack.realtime.schema import ensure_schema
from stack.settings import Settings

# One raw Kafka message as the sink hands it over: key, value, partition, offset, and its
# Kafka timestamp (ms; events dated too far after it are refused).
RawMessage = tuple[bytes | None, bytes | None, int, int, int | None]

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


# Session-local stage tables, no constraints; emptied by each commit (and rollback).
SETUP_STAGES = sql.SQL(
    "CREATE TEMP TABLE IF NOT EXISTS sink_stage ({sink}) ON COMMIT DELETE ROWS;"
    " CREATE TEMP TABLE IF NOT EXISTS dlq_stage ON COMMIT DELETE ROWS AS"
    " SELECT {dlq} FROM transactions_dlq WITH NO DATA"
).format(
    sink=sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(STAGE_TYPES.get(c, "text")))
        for c in STAGE_COLUMNS
    ),
    dlq=_ids(DLQ_COLUMNS),
)
COPY_SINK = sql.SQL("COPY sink_stage FROM STDIN (FORMAT BINARY)")
COPY_DLQ = sql.SQL("COPY dlq_stage ({}) FROM STDIN (FORMAT BINARY)").format(_ids(DLQ_COLUMNS))
# What a later version must not change, and the upsert that refuses such versions: they are
# taken out of the stage and returned (partition, offset, stored version, then each of these
# fields stored and staged) for the dead-letter table; the rest is upserted.
KEPT_FIELDS = ("merchant", "amount", "created_at")
UPSERT_SINK = sql.SQL(
    "WITH conflicts AS ("
    " DELETE FROM sink_stage s USING transactions_sink t"
    " WHERE s.version > 1 AND t.transaction_id = s.transaction_id::uuid"
    " AND s.version > t.version AND (t.merchant, t.amount, t.created_at)"
    " IS DISTINCT FROM (s.merchant, s.amount::numeric(12,2), s.created_at)"
    " RETURNING s.transaction_id, s.kafka_partition, s.kafka_offset, t.version,"
    " t.merchant AS stored_merchant, s.merchant, t.amount::text AS stored_amount, s.amount,"
    " t.created_at AS stored_created_at, s.created_at),"
    " upserted AS ("
    " INSERT INTO transactions_sink ({cols}) SELECT {values} FROM sink_stage"
    " WHERE NOT EXISTS (SELECT FROM conflicts c WHERE c.transaction_id = sink_stage.transaction_id)"
    " ON CONFLICT (transaction_id) DO UPDATE SET {sets}, updated_at = clock_timestamp()"
    " WHERE excluded.version > transactions_sink.version)"
    " SELECT kafka_partition, kafka_offset, version, stored_merchant, merchant, stored_amount,"
    " amount, stored_created_at, created_at FROM conflicts"
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


_TID_AT = EVENT_FIELDS.index("transaction_id")
_VERSION_AT = EVENT_FIELDS.index("version")
_KEPT_AT = tuple(EVENT_FIELDS.index(name) for name in KEPT_FIELDS)


def _kept(values: tuple) -> tuple:
    """(merchant, amount, created_at), comparable: "5.0" and "5.00" are the same amount."""
    merchant, amount, created_at = values
    return merchant, Decimal(amount), created_at


def conflict_detail(version: int, stored: tuple, given: tuple) -> str:
    """What a conflicting later version changed, against `version` (stored or earlier)."""
    changes = [
        f"{name} {new} (version {version} has {old})"
        for name, old, new, same_old, same_new in zip(
            KEPT_FIELDS, stored, given, _kept(stored), _kept(given), strict=True
        )
        if same_old != same_new
    ]
    return "this version changes " + "; ".join(changes)


# A valid event of a batch: its stage row, and the raw key and value (for a dead-letter row
# if a later step refuses it).
Valid = tuple[tuple, bytes, bytes]


def validate_chunk(
    messages: list[RawMessage], topic: str, clock_skew_s: float = DEFAULT_CLOCK_SKEW_S
) -> tuple[list[Valid], list[tuple]]:
    """Validate raw messages: (valid events, dead-letter rows). The hot loop of the consumer:
    keep it lean."""
    valid: list[Valid] = []
    dead: list[tuple] = []
    for key, value, partition, offset, timestamp in messages:
        event = validate(key, value, timestamp, clock_skew_s=clock_skew_s)
        if type(event) is Rejected:
            dead.append((topic, partition, offset, key, value, event.reason, event.detail))
        else:
            valid.append(((*event.values(), partition, offset), key, value))
    return valid, dead


def newest_rows(valid: list[Valid], topic: str) -> tuple[list[tuple], list[tuple]]:
    """(stage rows: only the newest version of each transaction; dead-letter rows for later
    versions that change what they must keep). Equal versions: the first one stays, as in the
    upsert (a replay changes nothing)."""
    newest: dict[str, tuple] = {}
    dead: list[tuple] = []
    for row, key, value in valid:
        tid = row[_TID_AT]
        kept = newest.get(tid)
        if kept is None:
            newest[tid] = row
        elif row[_VERSION_AT] > kept[_VERSION_AT]:
            old, new = tuple(kept[i] for i in _KEPT_AT), tuple(row[i] for i in _KEPT_AT)
            if old == new or _kept(old) == _kept(new):
                newest[tid] = row
            else:
                detail = conflict_detail(kept[_VERSION_AT], old, new)
                partition, offset = row[-2:]
                dead.append((topic, partition, offset, key, value, "conflicting_update", detail))
    return list(newest.values()), dead


def sort_messages(
    messages: list[RawMessage], topic: str, clock_skew_s: float = DEFAULT_CLOCK_SKEW_S
) -> tuple[list[tuple], list[tuple]]:
    """Validate a batch: (stage rows, newest version of each transaction; dead-letter rows)."""
    valid, dead = validate_chunk(messages, topic, clock_skew_s)
    rows, conflicts = newest_rows(valid, topic)
    return rows, dead + conflicts


class SinkWriter:
    """One PostgreSQL connection writing checkpoints of raw messages (see module doc)."""

    def __init__(self, settings: Settings, topic: str) -> None:
        self.settings = settings
        self.topic = topic
        self.clock_skew_s = settings.event_clock_skew_seconds
        self.conn: psycopg.Connection | None = None
        self.pending = WriteCounts()  # written in the open transaction, not yet committed

    def open(self) -> None:
        """Connect (if needed) and make sure the tables and the stage tables exist."""
        if self.conn is not None and not self.conn.closed:
            return
        self.conn = connect(self.settings)
        ensure_schema(self.conn)
        self.conn.execute(SETUP_STAGES)
        # Batches commit without waiting for the WAL flush (visible at once, cheap); `sync()`
        # makes them durable before Kafka may commit their offsets.
        self.conn.execute("SET synchronous_commit TO off")
        self.conn.commit()

    def store(self, rows: list[tuple], dead: list[tuple], chunk: list[RawMessage]) -> None:
        """Write a batch already sorted by `sort_messages` (`chunk`: its raw messages)."""
        self.open()
        with self.conn.cursor() as cursor:
            if rows:
                with cursor.copy(COPY_SINK) as copy:
                    copy.set_types(STAGE_TYPE_NAMES)
                    for row in rows:
                        copy.write_row(row)
                cursor.execute(UPSERT_SINK)
                conflicts = cursor.fetchall()
                if conflicts:
                    dead = dead + self._conflicts(conflicts, chunk)
            if dead:
                with cursor.copy(COPY_DLQ) as copy:
                    copy.set_types(DLQ_TYPES)
                    for row in dead:
                        copy.write_row(row)
                cursor.execute(INSERT_DLQ)
        counts = self.pending
        messages = len(chunk)
        counts.messages += messages
        counts.valid += messages - len(dead)
        counts.rejected += len(dead)
        for row in dead:
            counts.reasons[row[5]] = counts.reasons.get(row[5], 0) + 1

    def _conflicts(self, found: list[tuple], chunk: list[RawMessage]) -> list[tuple]:
        """Dead-letter rows for the staged versions that conflict with their stored rows."""
        raw = {(partition, offset): (key, value) for key, value, partition, offset, _ in chunk}
        dead = []
        for partition, offset, version, *pairs in found:
            key, value = raw[(partition, offset)]
            detail = conflict_detail(version, pairs[0::2], pairs[1::2])
            dead.append((self.topic, partition, offset, key, value, "conflicting_update", detail))
        return dead

    def commit(self) -> WriteCounts:
        """Make everything written since the last commit durable; return what it held."""
        if self.conn is not None and not self.conn.closed:
            self.conn.commit()
        done, self.pending = self.pending, WriteCounts()
        return done

    def sync(self) -> None:
        """Make every batch committed so far durable: one synchronous commit of a transaction
        with an id waits for the WAL flush up to its commit record, which follows theirs."""
        if self.conn is not None and not self.conn.closed:
            self.conn.execute("SET LOCAL synchronous_commit TO on")
            self.conn.execute("SELECT pg_current_xact_id()")
            self.conn.commit()

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
