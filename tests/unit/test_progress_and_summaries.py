"""The progress protocol and the summaries' JSON form, without services."""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from stack.progress import Event, Reporter
from stack.realtime.writer import backoff
from stack.summary import Summary, jsonable


@dataclass
class Inner(Summary):
    amount: Decimal
    at: dt.datetime


@dataclass
class Outer(Summary):
    name: str
    inner: Inner
    items: list[Inner] = field(default_factory=list)
    where: Path = Path("/tmp/x")

    derived = ("count",)

    @property
    def count(self) -> int:
        return len(self.items)


def test_summaries_are_plain_json_with_exact_decimals_and_iso_times():
    at = dt.datetime(2025, 3, 1, 12, 30, tzinfo=dt.UTC)
    outer = Outer("x", Inner(Decimal("12.30"), at), [Inner(Decimal("0.10"), at)])
    data = outer.to_dict()
    assert data == {
        "name": "x",
        "inner": {"amount": "12.30", "at": "2025-03-01T12:30:00+00:00"},
        "items": [{"amount": "0.10", "at": "2025-03-01T12:30:00+00:00"}],
        "where": "/tmp/x",
        "count": 1,
    }
    assert json.loads(json.dumps(data)) == data
    assert jsonable({"a": (1, 2), 3: {dt.date(2025, 1, 2)}}) == {"a": [1, 2], "3": ["2025-01-02"]}


def test_reporter_sends_events_and_notices_reach_logging_without_a_listener(caplog):
    events: list[Event] = []
    report = Reporter("load", events.append, logging.getLogger("stack.test"))
    report.start("t", total=3)
    report.progress(2, item="t", total=3)
    report.item("t", "loaded", done=3, result={"rows": 3})
    report.notice("a retry")
    report.line("a dbt line")
    report.done(done=3)
    assert [(e.kind, e.item, e.done, e.total, e.detail) for e in events] == [
        ("start", "t", None, 3, ""),
        ("progress", "t", 2, 3, ""),
        ("item", "t", 3, None, "loaded"),
        ("notice", None, None, None, "a retry"),
        ("log", None, None, None, "a dbt line"),
        ("done", None, 3, None, ""),
    ]
    assert events[2].result == {"rows": 3}
    with caplog.at_level(logging.WARNING, logger="stack"):
        Reporter("load", None, logging.getLogger("stack.test")).notice("nobody listens")
    assert "nobody listens" in caplog.text


def test_backoff_doubles_and_is_capped():
    assert [backoff(n) for n in (1, 2, 3, 4, 10)] == [0.5, 1.0, 2.0, 4.0, 10.0]


def test_the_consume_step_says_what_it_waited_for():
    from stack.jobs import waited
    from stack.realtime.consumer import ConsumeSummary
    from stack.realtime.windows import WindowsSummary

    summary = ConsumeSummary(
        topic="t",
        partitions=1,
        group="g",
        messages=10,
        valid=10,
        dead_lettered=0,
        reasons={},
        sink_rows=10,
        dlq_rows=0,
        seconds=7.0,
        waited={"start": 2.04, "idle": 1.0, "windows": 3.46},
    )
    assert waited(summary) == "waited 2.0 s to join, 1.0 s idle"
    summary.windows = WindowsSummary(
        messages=10, window_updates=2, late_events=0, seconds=6.0, stopped_by="idle"
    )
    assert waited(summary).endswith(", 3.5 s for the window totals")
