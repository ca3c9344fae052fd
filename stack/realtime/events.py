"""The `transactions` event: its schema (a pydantic TypedDict), and the validation that sorts
each Kafka message into a sink row or a dead-letter row with a stable reason.

An event on the wire (JSON, UTF-8, keyed by its `transaction_id`):

    {"schema_version": 1, "transaction_id": "3f0c5e2a-...", "account_id": "AC-004211",
     "customer_name": "...", "merchant": "...", "category": "grocery", "country": "FR",
     "currency": "EUR", "amount": "42.10", "status": "authorized",
     "created_at": "2026-11-20T10:00:00.123Z", "event_time": "2026-11-20T10:00:00.123Z",
     "version": 1}

`version` is 1 for a new transaction and grows by one with each update of it (a status
change); `created_at` is the event time of version 1 and every later version carries it
unchanged, as it does the amount, so per-minute totals over `created_at` can be recomputed
from the sink alone.

Speed: validation runs once per message in the consumer's hot path, so as much as possible
is checked by pydantic-core (Rust) on the JSON bytes. `transaction_id` and `amount` are
checked by strict patterns and kept as text; PostgreSQL converts them (`::uuid`,
`::numeric`), which the patterns guarantee it can.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import Annotated, Literal, NamedTuple

from pydantic import (
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    TypeAdapter,
    ValidationError,
)
from typing_extensions import TypedDict

SCHEMA_VERSION = 1
STATUSES = ("authorized", "captured", "refunded", "declined")
MAX_AMOUNT = "999999.99"  # more than this on one card payment is absurd here
MAX_PAYLOAD_BYTES = 4096  # a valid event is ~400 bytes; anything this big is not one of ours
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)  # times outside [EARLIEST, LATEST) are not plausible
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
# How far into the future (by the Kafka timestamp of its message) an event may be dated: the
# default of the EVENT_CLOCK_SKEW_SECONDS setting. Later ones would move the window forward.
DEFAULT_CLOCK_SKEW_S = 3600.0
# The dead-letter reason of a message the stack itself failed on (kept apart from input
# rejects: `stack consume` exits 4 when there is one).
INTERNAL_ERROR = "internal_error"

log = logging.getLogger(__name__)

# ISO 4217 codes of circulating currencies (no funds, metals, test or "no currency" codes).
ISO_4217 = [
    "AED",
    "AFN",
    "ALL",
    "AMD",
    "AOA",
    "ARS",
    "AUD",
    "AWG",
    "AZN",
    "BAM",
    "BBD",
    "BDT",
    "BGN",
    "BHD",
    "BIF",
    "BMD",
    "BND",
    "BOB",
    "BRL",
    "BSD",
    "BTN",
    "BWP",
    "BYN",
    "BZD",
    "CAD",
    "CDF",
    "CHF",
    "CLP",
    "CNY",
    "COP",
    "CRC",
    "CUP",
    "CVE",
    "CZK",
    "DJF",
    "DKK",
    "DOP",
    "DZD",
    "EGP",
    "ERN",
    "ETB",
    "EUR",
    "FJD",
    "FKP",
    "GBP",
    "GEL",
    "GHS",
    "GIP",
    "GMD",
    "GNF",
    "GTQ",
    "GYD",
    "HKD",
    "HNL",
    "HTG",
    "HUF",
    "IDR",
    "ILS",
    "INR",
    "IQD",
    "IRR",
    "ISK",
    "JMD",
    "JOD",
    "JPY",
    "KES",
    "KGS",
    "KHR",
    "KMF",
    "KPW",
    "KRW",
    "KWD",
    "KYD",
    "KZT",
    "LAK",
    "LBP",
    "LKR",
    "LRD",
    "LSL",
    "LYD",
    "MAD",
    "MDL",
    "MGA",
    "MKD",
    "MMK",
    "MNT",
    "MOP",
    "MRU",
    "MUR",
    "MVR",
    "MWK",
    "MXN",
    "MYR",
    "MZN",
    "NAD",
    "NGN",
    "NIO",
    "NOK",
    "NPR",
    "NZD",
    "OMR",
    "PAB",
    "PEN",
    "PGK",
    "PHP",
    "PKR",
    "PLN",
    "PYG",
    "QAR",
    "RON",
    "RSD",
    "RUB",
    "RWF",
    "SAR",
    "SBD",
    "SCR",
    "SDG",
    "SEK",
    "SGD",
    "SHP",
    "SLE",
    "SOS",
    "SRD",
    "SSP",
    "STN",
    "SVC",
    "SYP",
    "SZL",
    "THB",
    "TJS",
    "TMT",
    "TND",
    "TOP",
    "TRY",
    "TTD",
    "TWD",
    "TZS",
    "UAH",
    "UGX",
    "USD",
    "UYU",
    "UZS",
    "VES",
    "VND",
    "VUV",
    "WST",
    "XAF",
    "XCD",
    "XCG",
    "XOF",
    "XPF",
    "YER",
    "ZAR",
    "ZMW",
    "ZWG",
]

UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
# Up to 2 decimals, no leading zeros, optional sign (so that a negative amount is reported
# as such rather than as malformed).
AMOUNT_PATTERN = r"^-?(0|[1-9][0-9]{0,17})(\.[0-9]{1,2})?$"
# ISO 8601 (RFC 3339) date and time with an offset, as text: not a unix number, not a bare
# date, not a local time. datetime.fromisoformat() reads every string this admits.
TIMESTAMP_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?"
    r"(Z|[+-][0-9]{2}:?[0-9]{2})$"
)
Timestamp = Annotated[StrictStr, Field(pattern=TIMESTAMP_PATTERN)]
# Fields and string values of a valid event: its JSON holds exactly twice as many quotes,
# unless a value holds an escaped quote (then the slow, exact duplicate check runs).
EVENT_QUOTES = 2 * (13 + 11)
UTF8_BOM = b"\xef\xbb\xbf"

Text = Annotated[StrictStr, Field(min_length=1, max_length=200)]


class TransactionEvent(TypedDict):
    """One `transactions` event, as on the wire. `validate()` returns it with `created_at` and
    `event_time` as aware datetimes."""

    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]

    schema_version: Literal[1]
    transaction_id: Annotated[StrictStr, Field(pattern=UUID_PATTERN)]  # lowercase, canonical
    account_id: Annotated[StrictStr, Field(min_length=1, max_length=64)]
    customer_name: Text
    merchant: Text
    category: Annotated[StrictStr, Field(min_length=1, max_length=64)]
    country: Annotated[StrictStr, Field(pattern=r"^[A-Z]{2}$")]  # ISO 3166-1 alpha-2
    currency: Literal[tuple(ISO_4217)]  # type: ignore[valid-type]
    amount: Annotated[StrictStr, Field(pattern=AMOUNT_PATTERN)]  # a string: never a float
    status: Literal["authorized", "captured", "refunded", "declined"]
    created_at: Timestamp
    event_time: Timestamp
    version: Annotated[StrictInt, Field(ge=1, le=1_000_000)]


EVENT_ADAPTER = TypeAdapter(TransactionEvent)

# The stable `reason` kinds of transactions_dlq (docs/realtime.md explains each).
REASONS = {
    "not_json": "the payload is not UTF-8 JSON (or there is no payload)",
    "not_object": "the JSON is not an object",
    "oversized": f"the payload is larger than {MAX_PAYLOAD_BYTES} bytes",
    "null_key": "the Kafka message has no key",
    "key_mismatch": "the Kafka key is not the event's transaction_id",
    "wrong_schema_version": f"schema_version is not {SCHEMA_VERSION}",
    "missing_field": "a required field is absent",
    "unknown_field": "a field that the schema does not have",
    "wrong_type": "a field has the wrong JSON type or format",
    "negative_amount": "amount is zero or negative",
    "absurd_amount": f"amount is above {MAX_AMOUNT}",
    "bad_amount": "amount is not a decimal string with at most 2 places",
    "unknown_currency": "currency is not an ISO 4217 code",
    "unknown_status": f"status is not one of {', '.join(STATUSES)}",
    "duplicate_field": "a field appears twice in the JSON object (which value counts is ambiguous)",
    "bad_timestamp": "created_at or event_time is not an ISO 8601 time with an offset (a unix "
    "number is not), is outside 2000-2099, or event_time is before created_at",
    "future_timestamp": "created_at or event_time is later than the message's Kafka timestamp "
    "plus EVENT_CLOCK_SKEW_SECONDS",
    "bad_version": "version is not an integer >= 1, or a version 1 whose event_time is not "
    "its created_at",
    # Decided by the sink against the transaction's stored row, not by validate():
    "conflicting_update": "a later version changes the merchant, amount or created_at of its "
    "transaction (every version must carry those of the first)",
    # Not the input's fault: kept apart from the rejects above.
    INTERNAL_ERROR: "the stack failed on this message (a bug: the traceback is in the log)",
}


class Rejected(NamedTuple):
    reason: str  # one of REASONS
    detail: str


def clip(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _rejection(error: ValidationError) -> Rejected:
    """The first error of a failed validation, as a stable reason and a readable detail."""
    first = error.errors(include_url=False)[0]
    kind, loc = first["type"], first["loc"]
    field = str(loc[0]) if loc else ""
    given = first.get("input")
    if kind == "json_invalid":
        return Rejected("not_json", first["msg"])
    if kind in ("dict_type", "model_type", "typed_dict_type") or not loc:
        return Rejected("not_object", f"expected a JSON object, got {clip(given)}")
    if kind == "missing":
        return Rejected("missing_field", f"{field} is missing")
    if kind == "extra_forbidden":
        return Rejected("unknown_field", f"unexpected field {field}")
    if field == "schema_version":
        return Rejected(
            "wrong_schema_version",
            f"schema_version {clip(given)} is not supported (expected {SCHEMA_VERSION})",
        )
    if field == "status" and isinstance(given, str):
        return Rejected(
            "unknown_status", f"status {clip(given)} is not one of {', '.join(STATUSES)}"
        )
    if field == "currency" and isinstance(given, str):
        return Rejected("unknown_currency", f"currency {clip(given)} is not an ISO 4217 code")
    if field == "amount" and kind == "string_pattern_mismatch":
        return Rejected(
            "bad_amount", f"amount {clip(given)} is not a decimal with at most 2 places"
        )
    if field in ("created_at", "event_time"):
        if isinstance(given, str):
            return Rejected(
                "bad_timestamp",
                f"{field} {clip(given)} is not an ISO 8601 time with an offset "
                "(e.g. 2026-03-01T12:00:00.000Z)",
            )
        return Rejected(
            "bad_timestamp",
            f"{field} {clip(given)} is not an ISO 8601 string with an offset"
            + (" (a unix number is not accepted)" if type(given) in (int, float) else ""),
        )
    if field == "version" and type(given) is int:
        return Rejected("bad_version", f"version {given}: {first['msg']}")
    return Rejected("wrong_type", f"{field} {clip(given)}: {first['msg']}")


def _duplicate_field(payload: bytes) -> str | None:
    """The first field that occurs twice in the payload's JSON object, if any."""
    seen: set[str] = set()
    duplicate: list[str] = []

    def pairs(items: list[tuple[str, object]]) -> dict:
        for name, _ in items:
            if name in seen and not duplicate:
                duplicate.append(name)
            seen.add(name)
        return dict(items)

    try:
        json.loads(payload, object_pairs_hook=pairs)
    except ValueError:  # what pydantic read, Python's json may not (it is stricter here)
        return None
    return duplicate[0] if duplicate else None


def _time(text: str, field: str) -> datetime | Rejected:
    value = datetime.fromisoformat(text)  # the pattern admitted only what this reads...
    if EARLIEST <= value < LATEST:
        return value
    return Rejected("bad_timestamp", f"{field} {text} is outside 2000-2099")


def validate(
    key: bytes | None,
    payload: bytes | None,
    timestamp_ms: int | None = None,
    *,
    clock_skew_s: float = DEFAULT_CLOCK_SKEW_S,
) -> TransactionEvent | Rejected:
    """Sort one Kafka message: the validated event, or why it belongs in the dead-letter table.

    `timestamp_ms` is the message's Kafka timestamp: an event dated more than `clock_skew_s`
    after it is refused (without a timestamp, this machine's clock stands in). The first rule
    broken decides the reason. A message the stack fails on (a bug, not the input) is
    dead-lettered as `internal_error` and the rest go on; its traceback goes to the log.
    """
    try:
        return _validate(key, payload, timestamp_ms, clock_skew_s)
    except Exception as error:
        log.error(
            "a message failed validation through a bug in the stack (dead-lettered as %s)",
            INTERNAL_ERROR,
            exc_info=error,
        )
        return Rejected(INTERNAL_ERROR, f"the stack failed on this message: {error!r}"[:500])


def _validate(
    key: bytes | None, payload: bytes | None, timestamp_ms: int | None, clock_skew_s: float
) -> TransactionEvent | Rejected:
    if payload is None:
        return Rejected("not_json", "the message has no value (a tombstone)")
    if len(payload) > MAX_PAYLOAD_BYTES:
        return Rejected("oversized", f"{len(payload)} bytes (limit {MAX_PAYLOAD_BYTES})")
    if key is None:
        return Rejected("null_key", "the message has no key (expected the transaction_id)")
    if payload[:3] == UTF8_BOM:  # JSON must not have one, but readers may ignore it (RFC 8259)
        payload = payload[3:]
    try:
        event = EVENT_ADAPTER.validate_json(payload)
    except ValidationError as error:
        return _rejection(error)
    # Rules the schema cannot say, cheapest first.
    if payload.count(b'"') != EVENT_QUOTES and (name := _duplicate_field(payload)) is not None:
        return Rejected("duplicate_field", f"{name} appears more than once")
    try:
        created_at = _time(event["created_at"], "created_at")
        event_time = _time(event["event_time"], "event_time")
    except ValueError as error:  # a date the pattern admits but the calendar does not
        return Rejected("bad_timestamp", f"not a valid date or time: {error}")
    if type(created_at) is Rejected:
        return created_at
    if type(event_time) is Rejected:
        return event_time
    event["created_at"], event["event_time"] = created_at, event_time
    if b"\\u0000" in payload and any("\x00" in str(v) for v in event.values()):
        return Rejected(
            "wrong_type",
            "a text field holds a NUL character (\\u0000), which PostgreSQL text cannot store",
        )
    amount = event["amount"]
    if amount[0] == "-" or amount.strip("0.") == "":
        return Rejected("negative_amount", f"amount {amount} is not positive")
    if len(amount.partition(".")[0]) > 6:
        return Rejected("absurd_amount", f"amount {amount} is above {MAX_AMOUNT}")
    if event_time < created_at:
        return Rejected(
            "bad_timestamp",
            f"event_time {event_time.isoformat()} is before created_at {created_at.isoformat()}",
        )
    # event_time >= created_at: if either is too far ahead, event_time is.
    now_s = timestamp_ms / 1000 if timestamp_ms is not None and timestamp_ms > 0 else time.time()
    if event_time.timestamp() > now_s + clock_skew_s:
        field = "created_at" if created_at.timestamp() > now_s + clock_skew_s else "event_time"
        sent = datetime.fromtimestamp(now_s, UTC).isoformat(timespec="seconds")
        return Rejected(
            "future_timestamp",
            f"{field} {event[field].isoformat()} is more than {clock_skew_s:g} s after the "
            f"message was sent ({sent}): a clock or a producer is wrong",
        )
    if event["version"] == 1 and event_time != created_at:
        return Rejected("bad_version", "a version 1 must have event_time == created_at")
    if key != event["transaction_id"].encode():
        return Rejected(
            "key_mismatch", f"key {clip(key)} is not the transaction_id {event['transaction_id']}"
        )
    return event
