"""Realtime helpers: the expected outcome of a seeded run (computed from the generator, not
from what the consumer did), the sink's contents, and consumers run as separate processes
(so that they can be killed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient

from stack.realtime.generator import TransactionGenerator
from stack.realtime.producer import producer_config
from stack.settings import PROJECT_ROOT, Settings
from tests.helpers import query

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # fixed, so that runs are reproducible


@dataclass
class Expected:
    """What a seeded producer run must leave behind once fully consumed."""

    newest: dict[str, tuple[int, str]] = field(default_factory=dict)  # id -> (version, status)
    malformed: dict[str, int] = field(default_factory=dict)  # reason -> count
    events: int = 0


def expected_run(
    seed: int,
    count: int,
    *,
    bad_ratio: float = 0.0,
    update_ratio: float = 0.10,
    start: datetime = START,
    step_ms: float = 1.0,
) -> Expected:
    """Replay the generator as `stack produce --seed --start --count` runs it."""
    generator = TransactionGenerator(
        seed, update_ratio=update_ratio, bad_ratio=bad_ratio, start=start, step_ms=step_ms
    )
    expected = Expected(events=count)
    for message in generator.take(count):
        if message.kind in ("new", "update"):
            status = json.loads(message.value)["status"]
            version, _ = expected.newest.get(message.transaction_id, (0, ""))
            if message.version > version:
                expected.newest[message.transaction_id] = (message.version, status)
        else:
            expected.malformed[message.kind] = expected.malformed.get(message.kind, 0) + 1
    return expected


def produce_args(count: int, seed: int, *, rate: float = 0, bad_ratio: float = 0.0) -> list[str]:
    """`stack produce` arguments for a seeded run from START (what `expected_run` replays)."""
    args = ["produce", "--count", str(count), "--seed", str(seed), "--start", START.isoformat()]
    if rate:
        args += ["--rate", str(rate)]
    if bad_ratio:
        args += ["--bad-ratio", str(bad_ratio)]
    return args


def send(settings: Settings, messages: list[tuple[bytes | None, bytes | None]]) -> None:
    """Produce (key, value) messages, in this order, to the settings' topic."""
    producer = Producer(producer_config(settings))
    for key, value in messages:
        producer.produce(settings.transactions_topic, value, key)
    assert producer.flush(30) == 0


def sink_state(settings: Settings) -> dict[str, tuple[int, str]]:
    rows = query(settings, "SELECT transaction_id::text, version, status FROM transactions_sink")
    return {tid: (version, status) for tid, version, status in rows}


def dlq_reasons(settings: Settings) -> dict[str, int]:
    rows = query(settings, "SELECT reason, count(*) FROM transactions_dlq GROUP BY reason")
    return dict(rows)


def window_mismatches(settings: Settings) -> list[tuple]:
    """Rows where merchant_minute_totals and the SQL aggregate over the sink differ."""
    return query(
        settings,
        """
        WITH agg AS (
            SELECT merchant, date_trunc('minute', created_at) AS window_start,
                   count(*) AS transactions, sum(amount) AS amount_sum
            FROM transactions_sink GROUP BY 1, 2)
        SELECT coalesce(a.merchant, m.merchant), coalesce(a.window_start, m.window_start),
               a.transactions, m.transactions, a.amount_sum, m.amount_sum
        FROM agg a FULL JOIN merchant_minute_totals m
          ON m.merchant = a.merchant AND m.window_start = a.window_start
        WHERE a.transactions IS DISTINCT FROM m.transactions
           OR a.amount_sum IS DISTINCT FROM m.amount_sum""",
    )


# Directories for PYTHONPATH whose sitecustomize.py injects a bug in every process of a test:
# "inject_bug" fails on the message keyed `bug`, "inject_window_bug" fails the window process.
INJECT_BUG = Path(__file__).parent / "inject_bug"


def with_injected_bug(name: str = "inject_bug") -> str:
    """PYTHONPATH with the injecting directory `name` first."""
    return os.pathsep.join([str(INJECT_BUG.with_name(name)), os.environ.get("PYTHONPATH", "")])


def stack_env(settings: Settings) -> dict[str, str]:
    """The environment of a child that runs the stack: the settings, and the checkout on the
    path (a script run by its path imports `stack` from here, installed or not)."""
    return {**os.environ, **settings.as_env(), "PYTHONPATH": str(PROJECT_ROOT)}


def start_stack(settings: Settings, *args: str) -> subprocess.Popen:
    """`stack ARGS` as a background process (stdout/stderr captured as text)."""
    return subprocess.Popen(
        [sys.executable, "-m", "stack", *args],
        env=stack_env(settings),
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen, timeout: float = 180) -> tuple[str, str]:
    """Wait for a `start_stack` process; fail with its output unless it exited 0."""
    stdout, stderr = process.communicate(timeout=timeout)
    assert process.returncode == 0, f"exit {process.returncode}\n{stdout}\n{stderr}"
    return stdout, stderr


def wait_until(condition, timeout: float = 60, every: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"{what} not reached within {timeout} s")


def sink_count(settings: Settings) -> int:
    try:
        return query(settings, "SELECT count(*) FROM transactions_sink")[0][0]
    except psycopg.errors.UndefinedTable:
        return 0


def children_of(settings: Settings, command: str = "") -> list[int]:
    """Processes started for this test's consumer group (by their environment), whose command
    line holds `command`."""
    marker = f"CONSUMER_GROUP={settings.consumer_group}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if (
                entry.name.isdigit()
                and marker in (entry / "environ").read_bytes().split(b"\0")
                and command.encode() in (entry / "cmdline").read_bytes()
            ):
                found.append(int(entry.name))
        except OSError:  # gone meanwhile, or not ours
            continue
    return found


def members_with_partitions(settings: Settings) -> int:
    """How many members of the settings' consumer group have partitions assigned."""
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap_servers})
    future = admin.describe_consumer_groups([settings.consumer_group])[settings.consumer_group]
    try:
        group = future.result(10)
    except KafkaException:  # the group is not there yet
        return 0
    return sum(1 for member in group.members if member.assignment.topic_partitions)
