"""Out-of-order and replayed events: the newest version wins, nothing is counted twice, and
consuming the whole topic again changes nothing."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta

import orjson

from stack.realtime.generator import TransactionGenerator
from stack.realtime.topics import ensure_topic
from tests.helpers import run_stack
from tests.realtime.helpers import START, query, send, sink_state, window_mismatches

STATUSES = ("authorized", "captured", "refunded")


def versions_of(value: bytes) -> list[bytes]:
    """Version 1 (as generated), 2 and 3 of a transaction: status changes, later times."""
    event = orjson.loads(value)
    created = datetime.fromisoformat(event["created_at"])
    out = []
    for version, status in enumerate(STATUSES, start=1):
        later = created + timedelta(seconds=7 * (version - 1))
        out.append(
            orjson.dumps(
                {
                    **event,
                    "version": version,
                    "status": status,
                    "event_time": later.isoformat().replace("+00:00", "Z"),
                }
            )
        )
    return out


def test_newest_version_wins_whatever_the_order_and_replays_change_nothing(settings):
    rng = random.Random(3)
    news = TransactionGenerator(21, update_ratio=0.0, start=START).take(600)
    expected, per_key = {}, []
    for i, message in enumerate(news):
        v1, v2, v3 = versions_of(message.value)
        orders = ([v3, v1, v2], [v2, v3, v1, v3], [v1, v1, v2], [v1, v2, v3, v2, v1], [v1])
        order = orders[i % len(orders)]
        top = max(orjson.loads(v)["version"] for v in order)
        expected[message.transaction_id] = (top, STATUSES[top - 1])
        per_key.append([(message.key, v) for v in order])
    # Interleave the keys at random, keeping each key's own (scrambled) order.
    sequence = []
    while per_key:
        events = rng.choice(per_key)
        sequence.append(events.pop(0))
        if not events:
            per_key.remove(events)
    ensure_topic(settings)
    send(settings, sequence)

    first = run_stack(settings, "consume", "--idle-timeout", "1", "--json", check=True)
    assert json.loads(first.stdout)["messages"] == len(sequence)
    assert sink_state(settings) == expected
    assert query(settings, "SELECT count(*) FROM transactions_dlq")[0][0] == 0
    # each transaction counted once in its minute, however many times its version 1 came
    assert window_mismatches(settings) == []
    assert query(settings, "SELECT sum(transactions) FROM merchant_minute_totals")[0][0] == 600

    before = query(
        settings, "SELECT transaction_id, version, updated_at FROM transactions_sink ORDER BY 1"
    )
    totals = (
        "SELECT merchant, window_start, window_end, transactions, amount_sum"
        " FROM merchant_minute_totals ORDER BY 1, 2"
    )
    windows_before = query(settings, totals)
    # A full replay: a new consumer group (and window group) reads the topic from the start.
    replay = settings.model_copy(update={"consumer_group": settings.consumer_group + "-replay"})
    again = run_stack(replay, "consume", "--idle-timeout", "1", "--json", check=True)
    assert json.loads(again.stdout)["messages"] == len(sequence)
    assert (
        query(
            settings, "SELECT transaction_id, version, updated_at FROM transactions_sink ORDER BY 1"
        )
        == before
    )
    # (the new window group recounts from zero, so rows pass through smaller totals on the way)
    assert query(settings, totals) == windows_before
