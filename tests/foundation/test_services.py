"""The services are real: PostgreSQL keeps data across restarts, Kafka round-trips a message."""

from __future__ import annotations

import json
import uuid

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from stack.db import connect


def test_table_survives_postgres_restart(postgres, settings):
    # The seed plan's Phase 1 smoke test: create a table, restart, the rows are still there.
    with connect(settings) as conn:
        conn.execute("CREATE TABLE smoke (id int PRIMARY KEY, note text)")
        conn.execute("INSERT INTO smoke VALUES (1, 'before restart'), (2, 'kept')")
    postgres.restart_postgres()
    with connect(settings) as conn:
        rows = conn.execute("SELECT id, note FROM smoke ORDER BY id").fetchall()
    assert rows == [(1, "before restart"), (2, "kept")]


@pytest.mark.usefixtures("kafka")
def test_kafka_message_round_trip(settings):
    topic = settings.transactions_topic
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap_servers})
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(30)
    payload = json.dumps({"id": str(uuid.uuid4())}).encode()
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap_servers, "acks": "all"})
    producer.produce(topic, key=b"k", value=payload)
    assert producer.flush(30) == 0
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap_servers,
            "group.id": settings.consumer_group,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 1000,
        }
    )
    consumer.subscribe([topic])
    try:
        received = None
        for _ in range(60):
            message = consumer.poll(1.0)
            if message is not None and message.error() is None:
                received = message
                break
    finally:
        consumer.close()
    assert received is not None, "no message consumed back within 60 s"
    assert (received.key(), received.value()) == (b"k", payload)
