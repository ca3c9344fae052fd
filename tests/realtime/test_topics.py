"""The topic manager the window Application creates its own topics with (topics.py): the same
answers as Quix's own, without its once-a-second wait."""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka.admin import NewTopic
from quixstreams.models.topics import TopicConfig
from quixstreams.models.topics.exceptions import CreateTopicFailure

from stack.realtime.topics import topic_manager


def test_creates_topics_takes_existing_ones_and_names_what_the_broker_refuses(settings):
    manager = topic_manager(settings, f"g-{uuid.uuid4().hex[:8]}")
    admin = manager._admin  # what Quix creates topics with
    name = f"t-{uuid.uuid4().hex[:8]}"
    manager.topic(name, create_config=TopicConfig(num_partitions=2, replication_factor=1))
    assert len(admin.list_topics(timeout=10)[name].partitions) == 2
    # created again (another instance was first): fine, as in Quix
    admin._finalize_create(admin.admin_client.create_topics([NewTopic(name, 1)]))

    with pytest.raises(CreateTopicFailure, match="replication factor"):  # one broker here
        manager.topic(
            f"r-{uuid.uuid4().hex[:8]}",
            create_config=TopicConfig(num_partitions=1, replication_factor=3),
        )


def test_a_created_topic_is_read_back_once_the_broker_metadata_has_it(settings):
    """The controller answers a creation before the broker's metadata lists the topic (CI, a
    loaded machine just after a broker restart: TopicNotFoundError from Quix's read-back).
    Here the metadata is held back for its first four looks at the new topic."""
    manager = topic_manager(settings, f"g-{uuid.uuid4().hex[:8]}")
    admin = manager._admin
    name = f"t-{uuid.uuid4().hex[:8]}"
    listed = admin.list_topics
    looks = {"hidden": 0}

    def lagging_list_topics(timeout: float = -1):
        topics = listed(timeout=timeout)
        if name in topics and looks["hidden"] < 4:
            looks["hidden"] += 1
            return {n: t for n, t in topics.items() if n != name}
        return topics

    admin.list_topics = lagging_list_topics
    topic = manager.topic(name, create_config=TopicConfig(num_partitions=1, replication_factor=1))
    assert topic.broker_config.num_partitions == 1
    assert looks["hidden"] == 4
