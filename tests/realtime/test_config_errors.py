"""PostgreSQL refusing the settings (no such database, a wrong password) is not an outage to
wait out: the consumer fails at once, exit 2, naming the setting to fix."""

from __future__ import annotations

import pytest

from stack.realtime.topics import ensure_topic
from tests.helpers import run_stack


@pytest.mark.parametrize(
    ("wrong", "named"),
    [
        ({"POSTGRES_DB": "no_such_database"}, "POSTGRES_DB"),
        ({"POSTGRES_PASSWORD": "not-the-password"}, "POSTGRES_PASSWORD"),
        ({"POSTGRES_USER": "nobody_here"}, "POSTGRES_USER"),
    ],
)
def test_settings_postgres_refuses_fail_at_once_with_exit_2(settings, wrong, named):
    ensure_topic(settings)
    result = run_stack(settings, "consume", "--idle-timeout", "1", extra_env=wrong, timeout=90)
    assert result.returncode == 2, result.stderr[-2000:]
    assert named in result.stderr and "Traceback" not in result.stderr
    assert "not-the-password" not in result.stderr
