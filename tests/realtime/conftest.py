"""Realtime fixtures: every test here needs the broker; one database and topic per module
for the expensive runs."""

from __future__ import annotations

import uuid

import pytest

from stack.services.ephemeral import scratch_database
from stack.settings import Settings


@pytest.fixture(autouse=True)
def _broker(kafka) -> None:
    """Every realtime test talks to Kafka."""


@pytest.fixture(scope="module")
def module_settings(services) -> Settings:
    """Settings (database, topic, groups) shared by one module's tests: one expensive run."""
    suffix = uuid.uuid4().hex[:10]
    with scratch_database(
        services.settings,
        transactions_topic=f"transactions-{suffix}",
        consumer_group=f"sink-{suffix}",
    ) as configured:
        yield configured
