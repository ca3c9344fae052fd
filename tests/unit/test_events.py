"""The event schema, the validation and the generator, without services (fast)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import orjson
import pytest

from stack.realtime.events import REASONS, Rejected, validate
from stack.realtime.generator import MALFORMED_KINDS, TransactionGenerator, malformed
from stack.realtime.windows import to_cents
from tests.realtime.helpers import START


def good_message():
    return TransactionGenerator(3, start=START).take(1)[0]


def test_generated_events_are_valid_and_complete():
    messages = TransactionGenerator(11, start=START).take(3000)
    kinds = {m.kind for m in messages}
    assert kinds == {"new", "update"}
    for message in messages:
        event = validate(message.key, message.value)
        assert not isinstance(event, Rejected), (event, message.value)
        assert message.key == event["transaction_id"].encode()
        assert event["version"] == message.version
        assert event["currency"] and event["country"] and event["customer_name"]


def test_updates_raise_the_version_and_keep_created_at_and_amount():
    history: dict[str, list[dict]] = {}
    for message in TransactionGenerator(5, update_ratio=0.4, start=START).take(5000):
        history.setdefault(message.transaction_id, []).append(json.loads(message.value))
    updated = [events for events in history.values() if len(events) > 1]
    assert len(updated) > 100
    for events in updated:
        assert [e["version"] for e in events] == list(range(1, len(events) + 1))
        assert len({(e["created_at"], e["amount"]) for e in events}) == 1
        assert events[-1]["event_time"] >= events[0]["event_time"]
        assert events[0]["status"] == "authorized"


def test_same_seed_and_start_give_the_same_events_and_another_seed_does_not():
    def run(seed):
        return [
            (m.key, m.value)
            for m in TransactionGenerator(seed, bad_ratio=0.05, start=START).take(2000)
        ]

    assert run(1) == run(1)
    assert run(1) != run(2)
    # how the events are batched does not change them
    generator = TransactionGenerator(1, bad_ratio=0.05, start=START)
    batched = generator.take(700) + generator.take(1300)
    assert [(m.key, m.value) for m in batched] == run(1)


def test_there_are_at_least_eight_malformed_kinds_and_each_has_a_reason():
    assert len(MALFORMED_KINDS) >= 8
    assert set(MALFORMED_KINDS) <= set(REASONS)


@pytest.mark.parametrize("kind", MALFORMED_KINDS)
def test_each_malformed_kind_is_rejected_with_its_reason(kind):
    message = malformed(kind, good_message())
    result = validate(message.key, message.value)
    assert isinstance(result, Rejected)
    assert result.reason == kind, result
    assert result.detail


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"amount": 12.5}, "wrong_type"),  # a JSON number: decimals must travel as text
        ({"amount": "0.00"}, "negative_amount"),
        ({"amount": "999999.99"}, None),
        ({"amount": "1000000.00"}, "absurd_amount"),
        ({"amount": "12.5"}, None),
        ({"amount": "1e3"}, "bad_amount"),
        ({"currency": "eur"}, "unknown_currency"),
        ({"country": "France"}, "wrong_type"),
        ({"version": True}, "wrong_type"),
        ({"version": "2"}, "wrong_type"),
        ({"created_at": "2026-03-01T12:00:00"}, "bad_timestamp"),  # no offset
        ({"created_at": "1999-12-31T23:59:59Z"}, "bad_timestamp"),
        ({"customer_name": ""}, "wrong_type"),
        ({"customer_name": "nul \x00 inside"}, "wrong_type"),  # PostgreSQL text has no NUL
        ({"transaction_id": "not-a-uuid"}, "wrong_type"),
    ],
)
def test_field_rules(change, reason):
    message = good_message()
    event = {**orjson.loads(message.value), **change}
    if "created_at" in change:
        event["event_time"] = change["created_at"]
    result = validate(message.key, orjson.dumps(event))
    if reason is None:
        assert not isinstance(result, Rejected), result
    else:
        assert isinstance(result, Rejected) and result.reason == reason, result


def test_an_update_dated_before_its_creation_is_a_bad_timestamp():
    message = good_message()
    event = {
        **orjson.loads(message.value),
        "version": 2,
        "event_time": datetime(2026, 2, 1, tzinfo=UTC).isoformat(),
    }
    result = validate(message.key, orjson.dumps(event))
    assert isinstance(result, Rejected) and result.reason == "bad_timestamp"


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        (b"k", None, "not_json"),  # a tombstone
        (b"k", b"\xff\xfe not utf-8", "not_json"),
        (b"k", b"", "not_json"),
        (b"k", b"42", "not_object"),
    ],
)
def test_payloads_that_are_not_events(key, value, reason):
    result = validate(key, value)
    assert isinstance(result, Rejected) and result.reason == reason


def test_amounts_become_exact_cents():
    assert [to_cents(a) for a in ("12", "12.5", "12.05", "0.01", "999999.99")] == [
        1200,
        1250,
        1205,
        1,
        99999999,
    ]


@pytest.mark.parametrize(
    "created_at",
    [
        1772366400,  # unix seconds, as a JSON number
        1772366400.25,
        "1772366400",  # ... and as text
        "2026-03-01",  # a date without a time
        "2026-03-01T12:00:00+01",  # an offset without minutes
    ],
)
def test_timestamps_must_be_iso_8601_text_with_an_offset(created_at):
    message = good_message()
    event = {**orjson.loads(message.value), "created_at": created_at, "event_time": created_at}
    result = validate(message.key, orjson.dumps(event))
    assert isinstance(result, Rejected) and result.reason == "bad_timestamp", result


def test_iso_8601_variants_are_accepted_and_read_exactly():
    message = good_message()
    for text, expected in [
        ("2026-03-01T12:00:00.123456789Z", datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)),
        ("2026-03-01 13:00:00+01:00", datetime(2026, 3, 1, 12, tzinfo=UTC)),
        ("2026-03-01T12:00Z", datetime(2026, 3, 1, 12, tzinfo=UTC)),
    ]:
        event = {**orjson.loads(message.value), "created_at": text, "event_time": text}
        result = validate(message.key, orjson.dumps(event))
        assert not isinstance(result, Rejected), (text, result)
        assert result["created_at"] == expected


def test_a_field_given_twice_is_refused():
    message = good_message()
    for duplicated in (b'"amount":"1.00",', b'"version":1,', b'"status" : "captured",'):
        payload = b"{" + duplicated + message.value[1:]
        result = validate(message.key, payload)
        assert isinstance(result, Rejected) and result.reason == "duplicate_field", result
        assert duplicated.split(b'"')[1].decode() in result.detail
    # an escaped quote in a value is not a duplicate (the exact check runs, and passes)
    event = {**orjson.loads(message.value), "customer_name": 'Conan "The" O\'Brien'}
    assert not isinstance(validate(message.key, orjson.dumps(event)), Rejected)


def test_events_dated_beyond_the_clock_skew_after_their_message_are_refused():
    message = good_message()
    event = orjson.loads(message.value)
    sent_ms = int(datetime.fromisoformat(event["created_at"]).timestamp() * 1000)
    within = validate(message.key, message.value, sent_ms - 3_500_000)
    assert not isinstance(within, Rejected), within
    beyond = validate(message.key, message.value, sent_ms - 3_700_000)
    assert isinstance(beyond, Rejected) and beyond.reason == "future_timestamp", beyond
    assert "created_at" in beyond.detail
    assert validate(message.key, message.value, sent_ms - 70_000, clock_skew_s=60).reason == (
        "future_timestamp"
    )
    # an update whose own time is far ahead names event_time
    later = {**event, "version": 2, "event_time": "2099-01-01T00:00:00Z"}
    refused = validate(message.key, orjson.dumps(later), sent_ms)
    assert refused.reason == "future_timestamp" and "event_time" in refused.detail
    # a message without a timestamp is judged by this machine's clock
    future = {**event, "created_at": "2099-01-01T00:00:00Z", "event_time": "2099-01-01T00:00:00Z"}
    assert validate(message.key, orjson.dumps(future)).reason == "future_timestamp"
    assert validate(message.key, orjson.dumps(future), -1).reason == "future_timestamp"


def test_every_reason_is_documented():
    from stack.settings import PROJECT_ROOT

    doc = (PROJECT_ROOT / "docs" / "realtime.md").read_text()
    for reason in REASONS:
        assert f"| `{reason}` |" in doc, reason
