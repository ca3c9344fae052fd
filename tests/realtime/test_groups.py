"""Two consumers in one group share a multi-partition topic; together they are exact."""

from __future__ import annotations

import json

from tests.realtime.helpers import (
    START,
    dlq_reasons,
    expected_run,
    finish,
    members_with_partitions,
    sink_state,
    start_stack,
    wait_until,
)

SEED, COUNT = 17, 30_000


def test_two_consumers_in_one_group_give_the_exact_result(settings):
    settings = settings.model_copy(update={"transactions_partitions": 4})
    consumers = [
        start_stack(
            settings,
            "consume",
            "--no-windows",
            "--idle-timeout",
            "10",  # idle only after the stream: it starts once both members have joined
            "--commit-interval",
            "0.3",
            "--json",
        )
        for _ in range(2)
    ]
    # Both members hold partitions before the first message, so that each gets its share
    # (a member that joins once the other has read everything rightly reads nothing).
    wait_until(lambda: members_with_partitions(settings) == 2, what="both members in the group")
    producer = start_stack(
        settings,
        "produce",
        "--count",
        str(COUNT),
        "--rate",
        "5000",
        "--seed",
        str(SEED),
        "--start",
        START.isoformat(),
        "--bad-ratio",
        "0.01",
        "--json",
    )
    assert json.loads(finish(producer)[0])["partitions"] == 4
    summaries = [json.loads(finish(consumer)[0]) for consumer in consumers]

    assert all(summary["messages"] > 0 for summary in summaries), summaries
    assert sum(summary["messages"] for summary in summaries) >= COUNT
    expected = expected_run(SEED, COUNT, bad_ratio=0.01, step_ms=1000 / 5000)
    assert sink_state(settings) == expected.newest
    assert dlq_reasons(settings) == expected.malformed
