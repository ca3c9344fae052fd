"""One seeded produce + one consume (through the CLI, as a user runs them), then what they
left behind: exact sink rows, dead-lettered malformed events, window totals, status."""

from __future__ import annotations

import json

import pytest

from tests.helpers import run_stack
from tests.realtime.helpers import (
    START,
    dlq_reasons,
    expected_run,
    query,
    sink_state,
    window_mismatches,
)

SEED, COUNT, BAD_RATIO = 7, 20_000, 0.01


@pytest.fixture(scope="module")
def pipeline(module_settings):
    produced = run_stack(
        module_settings,
        "produce",
        "--count",
        str(COUNT),
        "--seed",
        str(SEED),
        "--start",
        START.isoformat(),
        "--bad-ratio",
        str(BAD_RATIO),
        "--json",
        check=True,
    )
    consumed = run_stack(module_settings, "consume", "--idle-timeout", "1", "--json", check=True)
    return json.loads(produced.stdout), json.loads(consumed.stdout), consumed.stderr


@pytest.fixture(scope="module")
def expected():
    return expected_run(SEED, COUNT, bad_ratio=BAD_RATIO)


def test_producer_summary_counts_what_it_sent(pipeline, expected):
    produced, _, _ = pipeline
    assert produced["events"] == COUNT
    assert produced["unique_transactions"] == len(expected.newest)
    assert produced["malformed"] == sum(expected.malformed.values()) > 0
    assert produced["unique_transactions"] + produced["updates"] + produced["malformed"] == COUNT
    assert produced["partitions"] == 3


def test_sink_holds_each_valid_transaction_once_at_its_newest_version(
    module_settings, pipeline, expected
):
    assert sink_state(module_settings) == expected.newest
    assert max(version for version, _ in expected.newest.values()) >= 3  # updates exercised


def test_each_malformed_event_is_dead_lettered_with_its_kind(module_settings, pipeline, expected):
    assert dlq_reasons(module_settings) == expected.malformed
    assert len(expected.malformed) >= 8


def test_window_totals_equal_the_sql_aggregate_over_the_sink(module_settings, pipeline):
    _, consumed, _ = pipeline
    assert consumed["windows"]["stopped_by"] == "idle"
    assert consumed["windows"]["late_events"] == 0
    assert query(module_settings, "SELECT count(*) FROM merchant_minute_totals")[0][0] > 10
    assert window_mismatches(module_settings) == []


def test_consumer_summary_and_exit(module_settings, pipeline, expected):
    _, consumed, stderr = pipeline
    assert consumed["messages"] == COUNT
    assert consumed["dead_lettered"] == sum(expected.malformed.values())
    assert consumed["sink_rows"] == len(expected.newest)
    assert consumed["stopped_by"] == "idle"
    assert set(consumed["waited"]) == {"start", "idle", "windows"}  # what it waited for
    assert set(consumed["windows"]["waited"]) == {"start", "idle"}
    assert "Traceback" not in stderr


def test_status_shows_offsets_lag_and_row_counts(module_settings, pipeline, expected):
    result = run_stack(module_settings, "status", "--json", check=True)
    realtime = json.loads(result.stdout)["pipelines"]["realtime"]
    assert realtime["events"] == COUNT
    assert sum(realtime["end_offsets"].values()) == COUNT
    assert (realtime["lag"], realtime["windows_lag"]) == (0, 0)
    assert realtime["transactions_sink_rows"] == len(expected.newest)
    assert realtime["transactions_dlq_rows"] == sum(expected.malformed.values())
