"""The window totals' state (local RocksDB, changelog and repartition topics, group offsets)
that no longer matches its topic is rebuilt, never silently kept: the same seed again after a
wipe of Kafka and PostgreSQL that left `quix-state` behind (what `just demo` twice with a wipe
between did), or the topic deleted and created again."""

from __future__ import annotations

import json
import time

import pytest
from confluent_kafka.admin import AdminClient

from stack.realtime.topics import windows_group
from stack.services.ephemeral import scratch_database
from tests.helpers import run_stack
from tests.realtime.helpers import expected_run, produce_args, query, window_mismatches

SEED, COUNT = 37, 3000


def produce_and_consume(settings) -> dict:
    run_stack(settings, *produce_args(COUNT, SEED), check=True)
    result = run_stack(settings, "consume", "--idle-timeout", "1", "--json", timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout) | {"stderr": result.stderr}


def delete_topics(settings, *, internal: bool) -> None:
    """Delete the topic (and, like a wiped broker, the window group's own topics and offsets)."""
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap_servers})
    group = windows_group(settings)
    topics = [settings.transactions_topic]
    if internal:
        topics += [
            name
            for name in admin.list_topics(timeout=10).topics
            if name.startswith((f"changelog__{group}--", f"repartition__{group}--"))
        ]
    for future in admin.delete_topics(topics, operation_timeout=30).values():
        future.result(30)
    while set(topics) & set(admin.list_topics(timeout=10).topics):
        time.sleep(0.2)
    if internal:
        for future in admin.delete_consumer_groups([group, settings.consumer_group]).values():
            future.result(30)


def totals(settings) -> int:
    return query(settings, "SELECT coalesce(sum(transactions), 0) FROM merchant_minute_totals")[0][
        0
    ]


@pytest.mark.parametrize("wiped", ["broker and database", "topic recreated"])
def test_a_state_that_does_not_match_its_topic_is_rebuilt(settings, wiped):
    expected = len(expected_run(SEED, COUNT).newest)
    first = produce_and_consume(settings)
    assert totals(settings) == expected and window_mismatches(settings) == [], first

    delete_topics(settings, internal=wiped == "broker and database")
    # A new database too: the sink starts empty, as after `stack down --wipe`.
    with scratch_database(
        settings,
        transactions_topic=settings.transactions_topic,
        consumer_group=settings.consumer_group,
    ) as again:
        consumed = produce_and_consume(again)
        assert consumed["windows"]["stopped_by"] == "idle"
        assert totals(again) == expected, consumed["stderr"]
        assert window_mismatches(again) == []
        assert "rebuilding it from the topic" in consumed["stderr"]
        assert "Traceback" not in consumed["stderr"]
