"""`stack.jobs` as an Airflow task or the agent calls it: every job runs in-process, returns its
summary, reports through `on_event`, and writes nothing to stdout or stderr (its children
included: capfd captures at the file-descriptor level)."""

from __future__ import annotations

import json
import subprocess
import sys

from stack import jobs
from stack.progress import Event


def test_every_job_is_silent_and_reports_through_events(settings, capfd):
    events: list[Event] = []
    demo = jobs.demo(settings, events=2000, seed=5, on_event=events.append)
    again = jobs.ingest(settings, idle_timeout=1, on_event=events.append)

    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == "", captured
    assert [step.name for step in demo.steps] == [
        "services",
        "batch generate",
        "batch ingest",
        "realtime stream",
        "warehouse load",
        "dbt build",
    ]
    assert demo.exit_code == 0 and again.exit_code == 0
    assert again.steps[0].summary.count("skipped") == 15  # the demo's files, already loaded
    jobs_seen = {event.job for event in events}
    assert jobs_seen >= {
        "services",
        "produce",
        "generate",
        "ingest",
        "consume",
        "load",
        "transform",
        "steps",
    }
    # Each step's `item` event carries its summary; every summary is plain JSON data.
    steps = [e for e in events if e.job == "steps" and e.kind == "item"]
    assert [e.item for e in steps] == [s.name for s in demo.steps + again.steps]
    json.dumps(demo.to_dict())
    streamed = demo.to_dict()["steps"][3]["summary"]
    assert streamed["produced"]["events"] == streamed["consumed"]["messages"] == 2000


def test_importing_jobs_imports_no_renderer_and_no_driver():
    code = (
        "import sys, stack.jobs; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'rich', 'typer', 'pyarrow', 'duckdb', 'quixstreams', 'confluent_kafka', 'dbt', "
        "'adbc_driver_manager', 'psycopg'}))"
    )
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == "[]"
