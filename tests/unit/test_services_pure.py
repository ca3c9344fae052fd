"""The services' pure parts, without servers."""

from __future__ import annotations

import uuid

from stack.services.local import kafka as local_kafka


def test_cluster_ids_never_start_with_a_dash(monkeypatch):
    """kafka-storage's argument parser takes `-t -xyz` for an option: one random id in 64
    starts with '-' in base64url (a first byte 0xF8-0xFB); Kafka's own Uuid.randomUuid()
    draws again then, and so must we."""
    dashed = uuid.UUID(bytes=b"\xf8" + b"\x00" * 15)
    plain = uuid.UUID(bytes=b"\x01" * 16)
    draws = iter([dashed, dashed, plain])
    monkeypatch.setattr(local_kafka.uuid, "uuid4", lambda: next(draws))
    cluster_id = local_kafka.new_cluster_id()
    assert not cluster_id.startswith("-")
    assert len(cluster_id) == 22
