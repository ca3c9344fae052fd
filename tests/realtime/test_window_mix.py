"""The documented equality (window totals == the same aggregate over the sink) on a mix of what
other producers send: a transaction whose version 1 was dead-lettered or never sent, a later
version that changes the amount, versions out of order and replayed, an event dated in 2099
(and one within the clock skew), unix-number timestamps, a field given twice."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import orjson

from stack.realtime.generator import TransactionGenerator
from stack.realtime.topics import ensure_topic
from tests.helpers import run_stack
from tests.realtime.helpers import dlq_reasons, query, send, sink_state, window_mismatches


def version(event: dict, number: int, status: str, *, after_s: int = 5, **changes) -> bytes:
    later = datetime.fromisoformat(event["created_at"]) + timedelta(seconds=after_s * number)
    return orjson.dumps(
        {
            **event,
            "version": number,
            "status": status,
            "event_time": event["created_at"] if number == 1 else _iso(later),
            **changes,
        }
    )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_window_totals_equal_the_sink_aggregate_on_a_mix_of_producers(settings):
    # Dated around now: what the clock skew is measured against (the messages' timestamps).
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=10)
    news = TransactionGenerator(43, update_ratio=0.0, start=start).take(400)
    sent: list[tuple[bytes, bytes]] = []
    sink: dict[str, tuple[int, str]] = {}
    dead: dict[str, int] = {}

    def expect(reason: str) -> None:
        dead[reason] = dead.get(reason, 0) + 1

    for i, message in enumerate(news):
        event, key, tid = orjson.loads(message.value), message.key, message.transaction_id
        case = i % 10
        if case == 0:  # version 1 dead-lettered, version 2 valid: counted at version 2
            sent += [(key, version(event, 1, "authorized", amount="1e3"))]
            sent += [(key, version(event, 2, "captured"))]
            expect("bad_amount")
            sink[tid] = (2, "captured")
        elif case == 1:  # version 1 never sent
            sent += [(key, version(event, 2, "captured"))]
            sink[tid] = (2, "captured")
        elif case == 2:  # a later version changes the amount: refused, version 1 stays
            sent += [(key, version(event, 1, "authorized"))]
            sent += [(key, version(event, 2, "captured", amount="99999.99"))]
            expect("conflicting_update")
            sink[tid] = (1, "authorized")
        elif case == 3:  # out of order and replayed
            sent += [(key, version(event, 3, "refunded")), (key, version(event, 1, "authorized"))]
            sent += [(key, version(event, 2, "captured")), (key, version(event, 1, "authorized"))]
            sink[tid] = (3, "refunded")
        elif case == 4 and i < 50:  # in 2099: refused, and the merchant's next events count
            far = {
                "created_at": "2099-06-01T00:00:00.000Z",
                "event_time": "2099-06-01T00:00:00.000Z",
            }
            sent += [(key, orjson.dumps({**event, **far}))]
            expect("future_timestamp")
        elif case == 5 and i < 50:  # half an hour ahead: within the clock skew, counted
            ahead = _iso(datetime.now(UTC) + timedelta(minutes=30))
            sent += [(key, orjson.dumps({**event, "created_at": ahead, "event_time": ahead}))]
            sink[tid] = (1, event["status"])
        elif case == 6 and i < 50:  # unix seconds
            when = int(datetime.fromisoformat(event["created_at"]).timestamp())
            sent += [(key, orjson.dumps({**event, "created_at": when, "event_time": when}))]
            expect("bad_timestamp")
        elif case == 7 and i < 50:  # a field given twice
            sent += [(key, b'{"amount":"1.00",' + message.value[1:])]
            expect("duplicate_field")
        else:
            sent += [(key, message.value)]
            sink[tid] = (1, event["status"])

    ensure_topic(settings, partitions=1)
    send(settings, sent)

    result = run_stack(settings, "consume", "--idle-timeout", "1", "--json", timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert summary["messages"] == len(sent) == summary["valid"] + summary["dead_lettered"]
    assert summary["windows"]["late_events"] == 0
    assert sink_state(settings) == sink
    assert dlq_reasons(settings) == dead
    assert window_mismatches(settings) == []
    counted = query(settings, "SELECT sum(transactions) FROM merchant_minute_totals")[0][0]
    assert counted == len(sink)
