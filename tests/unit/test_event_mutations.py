"""A bounded, seeded mutation test of the event validation: whatever the bytes, validate()
returns an event or a documented reason of the input, never an internal error."""

from __future__ import annotations

import random
import time

from stack.realtime.events import INTERNAL_ERROR, REASONS, Rejected, validate
from stack.realtime.generator import TransactionGenerator
from tests.mutations import mutants
from tests.realtime.helpers import START


def test_mutated_events_are_events_or_documented_rejects():
    rng = random.Random(20261202)
    valid = [(m.key, m.value) for m in TransactionGenerator(47, start=START).take(500)]
    now_ms = int(time.time() * 1000)
    outcomes: dict[str, int] = {}
    for kind, key, value in mutants(rng, valid, 20_000):
        result = validate(key, value, now_ms)
        if type(result) is Rejected:
            assert result.reason in REASONS and result.detail, (kind, key, value, result)
            assert result.reason != INTERNAL_ERROR, (kind, key, value, result)  # a bug
            outcomes[result.reason] = outcomes.get(result.reason, 0) + 1
        else:
            assert key == result["transaction_id"].encode(), (kind, key, value)
            outcomes["valid"] = outcomes.get("valid", 0) + 1
    # the mutations reach many rules, and some leave a valid event
    assert len(outcomes) >= 10 and outcomes["valid"] > 0, outcomes
