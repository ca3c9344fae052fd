"""Each kind of malformed event lands once in transactions_dlq, byte for byte, with its
reason, while the valid events around it keep flowing into the sink."""

from __future__ import annotations

import json

from confluent_kafka import Producer

from stack.realtime.generator import MALFORMED_KINDS, TransactionGenerator, malformed
from stack.realtime.producer import producer_config
from stack.realtime.topics import ensure_topic
from tests.helpers import run_stack
from tests.realtime.helpers import START, query, sink_state

# Beyond the generator's kinds: messages no producer of ours would send.
RAW_BAD = [(b"tombstone-key", None, "not_json"), (b"latin-1", "café".encode("latin-1"), "not_json")]


def test_each_malformed_kind_is_dead_lettered_once_and_the_stream_goes_on(settings):
    generator = TransactionGenerator(5, update_ratio=0.0, start=START)
    sent, valid = [], {}
    for kind in MALFORMED_KINDS:
        good_before, base, good_after = generator.take(3)
        bad = malformed(kind, base)
        sent += [
            (good_before.key, good_before.value, None),
            (bad.key, bad.value, kind),
            (good_after.key, good_after.value, None),
        ]
        valid.update(
            {
                m.transaction_id: (1, "authorized")
                for m in (good_before, good_after)
                if b'"declined"' not in m.value
            }
        )
        valid.update(
            {
                m.transaction_id: (1, "declined")
                for m in (good_before, good_after)
                if b'"declined"' in m.value
            }
        )
    sent += [(key, value, reason) for key, value, reason in RAW_BAD]
    # valid JSON that PostgreSQL text cannot hold: must not stop the stream
    poison = generator.take(1)[0]
    sent.append(
        (
            poison.key,
            poison.value.replace(b'"customer_name":"', b'"customer_name":"\\u0000'),
            "wrong_type",
        )
    )

    ensure_topic(settings, partitions=1)  # one partition: offsets follow the send order
    producer = Producer(producer_config(settings))
    for key, value, _ in sent:
        producer.produce(settings.transactions_topic, value, key)
    assert producer.flush(30) == 0

    result = run_stack(
        settings, "consume", "--idle-timeout", "1", "--no-windows", "--json", check=True
    )
    summary = json.loads(result.stdout)
    bad_sent = [
        (offset, key, value, reason)
        for offset, (key, value, reason) in enumerate(sent)
        if reason is not None
    ]
    assert summary["dead_lettered"] == len(bad_sent)

    rows = query(
        settings,
        "SELECT kafka_offset, kafka_key, raw_payload, reason, detail, topic,"
        " kafka_partition, failed_at IS NOT NULL FROM transactions_dlq"
        " ORDER BY kafka_offset",
    )
    assert [(offset, key, payload, reason) for offset, key, payload, reason, *_ in rows] == [
        (offset, key, value, reason) for offset, key, value, reason in bad_sent
    ]
    for *_, detail, topic, partition, has_time in rows:
        assert detail and topic == settings.transactions_topic and partition == 0 and has_time
    assert sink_state(settings) == valid
