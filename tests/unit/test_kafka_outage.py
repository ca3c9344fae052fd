"""Which errors of an Application are Kafka being away (worth a new one and a wait), and which
are not (raised: the settings or the code are wrong)."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError, KafkaException
from quixstreams.models.topics.exceptions import (
    CreateTopicFailure,
    CreateTopicTimeout,
    TopicNotFoundError,
)

from stack.realtime.runner import kafka_outage


def _chained(error: Exception, context: Exception) -> Exception:
    """`error` raised while handling `context`, as Quix raises them."""
    try:
        try:
            raise context
        except Exception:
            raise error  # noqa: B904 (the implicit chain is the point)
    except Exception as raised:
        return raised


def test_topics_not_created_because_the_broker_went_away_is_an_outage():
    # Seen when the broker was killed while the window process built its Application: Quix
    # keeps only librdkafka's text ("Local: ..." is the client's own, a transport error).
    error = _chained(
        CreateTopicFailure(
            "Failed to create topics: {'changelog__g--t--default': 'Failed while waiting for "
            "response from broker: Local: Broker transport failure'}"
        ),
        TopicNotFoundError('Topic "changelog__g--t--default" not found on the broker'),
    )
    assert kafka_outage(error) == "topics not created: Local: Broker transport failure"


def test_topic_creation_that_times_out_is_an_outage():
    assert kafka_outage(CreateTopicTimeout("Timed out waiting for creation status")) == (
        "topics not created: timed out"
    )


@pytest.mark.parametrize(
    "message",
    [
        # the broker answered, and said no: no wait cures it
        "Failed to create topics: {'t': 'Broker: Invalid replication factor'}",
        'Failed to create topics: {\'t\': \'Failed to create topic "t"; verify if "Create" '
        'and "Read" operations are allowed for your credentials\'}',
    ],
)
def test_topics_the_broker_refused_are_not_an_outage(message):
    assert kafka_outage(CreateTopicFailure(message)) is None


def test_kafka_errors():
    transport = KafkaException(KafkaError(KafkaError._TRANSPORT, "Broker transport failure"))
    assert kafka_outage(transport) == "Broker transport failure"
    denied = KafkaException(KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED, "denied"))
    assert kafka_outage(denied) is None
    assert kafka_outage(ValueError("a bug")) is None
