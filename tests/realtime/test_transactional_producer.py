"""Events from a transactional producer (what Kafka Streams, Flink or Quix exactly-once apps
write): their commit markers take offsets that no consumer is ever given, and an aborted
transaction's records are never delivered either. A bounded consume must still end, and
`stack status` must not show them as lag."""

from __future__ import annotations

import json
import uuid

from confluent_kafka import Producer

from stack.realtime.generator import TransactionGenerator
from stack.realtime.topics import ensure_topic
from tests.helpers import run_stack
from tests.realtime.helpers import START, sink_state, window_mismatches


def test_commit_markers_and_aborted_records_are_not_lag(settings):
    ensure_topic(settings)
    producer = Producer(
        {
            "bootstrap.servers": settings.kafka_bootstrap_servers,
            "transactional.id": f"test-{uuid.uuid4().hex[:8]}",
            "log_level": 0,
        }
    )
    producer.init_transactions(60)
    committed, aborted = (
        TransactionGenerator(seed, update_ratio=0.0, start=START).take(count)
        for seed, count in ((31, 5), (32, 3))
    )
    producer.begin_transaction()
    for message in committed:
        producer.produce(settings.transactions_topic, message.value, message.key)
    producer.commit_transaction(60)
    producer.begin_transaction()
    for message in aborted:
        producer.produce(settings.transactions_topic, message.value, message.key)
    producer.abort_transaction(60)

    result = run_stack(settings, "consume", "--idle-timeout", "1", "--json", timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert (summary["messages"], summary["stopped_by"]) == (5, "idle")
    assert summary["windows"]["stopped_by"] == "idle"
    statuses = {m.transaction_id: (1, json.loads(m.value)["status"]) for m in committed}
    assert sink_state(settings) == statuses
    assert window_mismatches(settings) == []

    status = json.loads(run_stack(settings, "status", "--json", check=True).stdout)
    realtime = status["pipelines"]["realtime"]
    assert (realtime["lag"], realtime["windows_lag"]) == (0, 0), realtime
