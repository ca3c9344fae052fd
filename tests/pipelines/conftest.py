"""The end-to-end jobs stream through Kafka."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _broker(kafka) -> None:
    """Every end-to-end test talks to Kafka."""
