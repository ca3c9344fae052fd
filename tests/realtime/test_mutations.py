"""A bounded, seeded mutation test of the consumer: valid events, and mutants of them
(truncated, bytes flipped, quotes and delimiters inserted, other encodings, keys changed),
through `stack consume` with its window process. No traceback, no hang, and every message
accounted for: valid + dead-lettered = messages, one dead-letter row each, one sink row per
transaction with a valid version, and the window totals equal to the sink's aggregate."""

from __future__ import annotations

import json
import random
import time

from stack.realtime.events import REASONS, Rejected, validate
from stack.realtime.generator import TransactionGenerator
from stack.realtime.topics import ensure_topic
from tests.helpers import run_stack
from tests.mutations import mutants
from tests.realtime.helpers import START, query, send, window_mismatches


def test_mutated_events_are_each_accounted_for(settings):
    rng = random.Random(9)
    valid = [
        (m.key, m.value) for m in TransactionGenerator(53, update_ratio=0.0, start=START).take(600)
    ]
    # Some originals are not sent: a mutant may then be a transaction's first valid version.
    messages = [(key, value) for key, value in valid if rng.random() < 0.7]
    for _, key, value in mutants(rng, valid, 1400):
        messages.insert(rng.randrange(len(messages) + 1), (key, value))
    ensure_topic(settings)
    send(settings, messages)

    result = run_stack(settings, "consume", "--idle-timeout", "1", "--json", timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    summary = json.loads(result.stdout)
    assert summary["messages"] == len(messages) == summary["valid"] + summary["dead_lettered"]
    assert summary["dlq_rows"] == summary["dead_lettered"]
    assert set(summary["reasons"]) <= set(REASONS)
    now_ms = int(time.time() * 1000)
    transactions = {
        event["transaction_id"]
        for key, value in messages
        if type(event := validate(key, value, now_ms)) is not Rejected
    }
    assert summary["sink_rows"] == len(transactions)
    assert summary["windows"]["late_events"] == 0
    assert window_mismatches(settings) == []
    assert query(settings, "SELECT sum(transactions) FROM merchant_minute_totals")[0][0] == len(
        transactions
    )
