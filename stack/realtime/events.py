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

from datetime import UTC, datetime
from typing import Annotated, Literal, NamedTuple

from pydantic import (
    AwareDatetime,
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

Text = Annotated[StrictStr, Field(min_length=1, max_length=200)]


class TransactionEvent(TypedDict):
    """One `transactions` event, as validated."""

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
    created_at: Annotated[AwareDatetime, Field(ge=EARLIEST, lt=LATEST)]
    event_time: Annotated[AwareDatetime, Field(ge=EARLIEST, lt=LATEST)]
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
    "bad_timestamp": "created_at or event_time is not an ISO 8601 time with an offset, is "
    "outside 2000-2099, or event_time is before created_at",
    "bad_version": "version is not an integer >= 1, or a version 1 whose event_time is not "
    "its created_at",
}


class Rejected(NamedTuple):
    reason: str  # one of REASONS
    detail: str


def _clip(value: object, limit: int = 60) -> str:
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
        return Rejected("not_object", f"expected a JSON object, got {_clip(given)}")
    if kind == "missing":
        return Rejected("missing_field", f"{field} is missing")
    if kind == "extra_forbidden":
        return Rejected("unknown_field", f"unexpected field {field}")
    if field == "schema_version":
        return Rejected(
            "wrong_schema_version",
            f"schema_version {_clip(given)} is not supported (expected {SCHEMA_VERSION})",
        )
    if field == "status" and isinstance(given, str):
        return Rejected(
            "unknown_status", f"status {_clip(given)} is not one of {', '.join(STATUSES)}"
        )
    if field == "currency" and isinstance(given, str):
        return Rejected("unknown_currency", f"currency {_clip(given)} is not an ISO 4217 code")
    if field == "amount" and kind == "string_pattern_mismatch":
        return Rejected(
            "bad_amount", f"amount {_clip(given)} is not a decimal with at most 2 places"
        )
    if field in ("created_at", "event_time") and isinstance(given, str):
        return Rejected("bad_timestamp", f"{field} {_clip(given)}: {first['msg']}")
    if field == "version" and type(given) is int:
        return Rejected("bad_version", f"version {given}: {first['msg']}")
    return Rejected("wrong_type", f"{field} {_clip(given)}: {first['msg']}")


def validate(key: bytes | None, payload: bytes | None) -> TransactionEvent | Rejected:
    """Sort one Kafka message: the validated event, or why it belongs in the dead-letter table.

    The first rule broken decides the reason.
    """
    if payload is None:
        return Rejected("not_json", "the message has no value (a tombstone)")
    if len(payload) > MAX_PAYLOAD_BYTES:
        return Rejected("oversized", f"{len(payload)} bytes (limit {MAX_PAYLOAD_BYTES})")
    if key is None:
        return Rejected("null_key", "the message has no key (expected the transaction_id)")
    try:
        event = EVENT_ADAPTER.validate_json(payload)
    except ValidationError as error:
        return _rejection(error)
    # Rules the schema cannot say, cheapest first.
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
    created_at, event_time = event["created_at"], event["event_time"]
    if event_time < created_at:
        return Rejected(
            "bad_timestamp",
            f"event_time {event_time.isoformat()} is before created_at {created_at.isoformat()}",
        )
    if event["version"] == 1 and event_time != created_at:
        return Rejected("bad_version", "a version 1 must have event_time == created_at")
    if key != event["transaction_id"].encode():
        return Rejected(
            "key_mismatch", f"key {_clip(key)} is not the transaction_id {event['transaction_id']}"
        )
    return event
