"""Realtime latency and throughput as users meet them, each against Quix's own way in the same
run, on the same broker and database. Every consumer is a process of its own, started as a
user starts it.

- latency: a paced `stack produce --rate R` (update ratio 0: one row per event) while a
  consumer runs; latency = the row's write time minus the Kafka timestamp of its message
  (for the stack: `updated_at`; for PostgreSQLSink: a `written_at` column defaulting to
  clock_timestamp()). p50/p95/p99/max per rate (1k, 5k, 20k events/s), for `stack consume`
  with its defaults (the window process included) and for Quix's `PostgreSQLSink` with its
  defaults (insert, commit interval 5 s); then the highest rate at which the stack holds
  p99 under 1 s.
- throughput: N events produced first; the wall time of `stack consume --idle-timeout 1`
  (start, group join, drain, exit) and its rows' first-to-last write rate, against
  `PostgreSQLSink(upsert_on_primary_key=True)` and a Quix consumer writing nothing, each run
  as a process with `Application.run(timeout=1)`; repeated, interleaved, the best run counts.

- stream: the demo's realtime step, `stack stream --count 20000` (consumers started with the
  producer, which keeps within `--lead` events of the slowest), against the same with
  `--lead 0` (every event written at once) and against what the demo did before: `stack
  produce`, then `stack consume --idle-timeout 1`. Per way: the wall time, and how long after
  the last event was written the consumers were done (window totals included).

Run: `just bench realtime.latency` (`hatch run python -m bench.realtime.latency [--quick]`).
Ratios matter more than the figures: the machine may be shared (the load average is printed).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass

import psycopg
from confluent_kafka import Consumer, KafkaError
from confluent_kafka.admin import AdminClient

from bench import bench_services
from bench.realtime.quix_apps import CREATE_TABLE, TABLE
from stack.realtime.producer import produce
from stack.realtime.topics import ensure_topic
from stack.services.ephemeral import scratch_database
from stack.settings import PROJECT_ROOT, Settings

RATES = (1000, 2000, 5000, 20_000)
SEARCH = (25_000, 30_000, 40_000, 60_000)  # for the highest rate with p99 < 1 s


def load() -> str:
    return f"{os.getloadavg()[0]:.2f}"


@dataclass
class Latency:
    rows: int
    p50: float
    p95: float
    p99: float
    max: float
    rate: float  # events/s the producer achieved

    def line(self) -> str:
        return (
            f"p50 {self.p50:7.0f}  p95 {self.p95:7.0f}  p99 {self.p99:7.0f}  max {self.max:7.0f} ms"
            f"  ({self.rows:,} rows, {self.rate:,.0f} events/s produced)"
        )


def holds(result: Latency, rate: int) -> bool:
    """p99 under a second, at (nearly) the rate asked for."""
    return result.p99 < 1000 and result.rate >= 0.95 * rate


def percentile(ordered: list[float], share: float) -> float:
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


# --- processes -----------------------------------------------------------------------------
def start(settings: Settings, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", *args],
        env={**os.environ, **settings.as_env()},
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finished(process: subprocess.Popen, what: str) -> str:
    """Its standard output, once it has exited 0."""
    stdout, stderr = process.communicate(timeout=900)
    if process.returncode != 0:
        raise RuntimeError(f"{what} exited {process.returncode}: {stderr[-2000:]}")
    return stdout


def stack_consume(settings: Settings, *options: str) -> subprocess.Popen:
    return start(settings, "stack", "consume", *options, "--json")


def quix_app(settings: Settings, kind: str, *options: str) -> subprocess.Popen:
    return start(settings, "bench.realtime.quix_apps", kind, *options)


def wait_for_members(settings: Settings, groups: list[str], timeout: float = 120) -> None:
    """Until each group has a member with partitions (joined, so that latency is not the
    join)."""
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap_servers, "log_level": 0})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = admin.describe_consumer_groups(groups)
        try:
            if all(
                any(m.assignment.topic_partitions for m in f.result(10).members)
                for f in described.values()
            ):
                return
        except Exception:  # not there yet
            pass
        time.sleep(0.2)
    raise RuntimeError(f"groups {groups} did not join within {timeout} s")


def count(settings: Settings, table: str) -> int:
    try:
        with psycopg.connect(settings.postgres_conninfo()) as conn:
            return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    except psycopg.errors.UndefinedTable:
        return 0


def kafka_timestamps(settings: Settings) -> dict[bytes, int]:
    """Each message's key -> its Kafka timestamp (ms)."""
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap_servers,
            "group.id": f"bench-read-{uuid.uuid4().hex[:6]}",
            "auto.offset.reset": "earliest",
            "enable.partition.eof": True,
            "enable.auto.commit": False,
        }
    )
    partitions = len(
        consumer.list_topics(settings.transactions_topic)
        .topics[settings.transactions_topic]
        .partitions
    )
    consumer.subscribe([settings.transactions_topic])
    found: dict[bytes, int] = {}
    ended: set[int] = set()
    while len(ended) < partitions:
        for message in consumer.consume(10_000, timeout=1):
            if message.error() is None:
                found[message.key()] = message.timestamp()[1]
            elif message.error().code() == KafkaError._PARTITION_EOF:
                ended.add(message.partition())
    consumer.close()
    return found


def fresh(settings: Settings, name: str) -> Settings:
    suffix = uuid.uuid4().hex[:8]
    return settings.model_copy(
        update={"transactions_topic": f"{name}-{suffix}", "consumer_group": f"{name}-{suffix}"}
    )


# --- latency -------------------------------------------------------------------------------
def latency_run(settings: Settings, rate: int, seconds: float, consumer: str) -> Latency:
    """One paced stream at `rate` while `consumer` ("stack" or "postgresql") runs."""
    with scratch_database(settings, "bench_") as db:
        target = fresh(db, "lat")
        ensure_topic(target, partitions=1)
        events = int(rate * seconds)
        if consumer == "stack":
            process = stack_consume(target)  # its defaults: the window process too
            table, written = "transactions_sink", "updated_at"
        else:
            with psycopg.connect(target.postgres_conninfo()) as conn:
                conn.execute(CREATE_TABLE)
            process = quix_app(target, "postgresql")
            table, written = TABLE, "written_at"
        try:
            wait_for_members(target, [target.consumer_group])
            produced = produce(target, count=events, rate=rate, seed=rate, update_ratio=0.0)
            deadline = time.monotonic() + 120
            while count(target, table) < produced.unique_transactions:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"{consumer}: rows missing\n{process.stderr.read()}")
                time.sleep(0.2)
        finally:
            process.terminate()
            process.communicate(timeout=120)
        stamps = kafka_timestamps(target)
        with psycopg.connect(target.postgres_conninfo()) as conn:
            rows = conn.execute(
                f"SELECT transaction_id::text, extract(epoch FROM {written}) * 1000 FROM {table}"
            ).fetchall()
        ordered = sorted(float(ms) - stamps[tid.encode()] for tid, ms in rows)
        return Latency(
            rows=len(ordered),
            p50=percentile(ordered, 0.50),
            p95=percentile(ordered, 0.95),
            p99=percentile(ordered, 0.99),
            max=ordered[-1],
            rate=produced.events_per_s,
        )


# --- throughput ----------------------------------------------------------------------------
def throughput_run(settings: Settings, topic: str, events: int, kind: str) -> tuple[float, float]:
    """(wall seconds of the consumer process, first-to-last rate in events/s)."""
    with scratch_database(settings, "bench_") as db:
        target = db.model_copy(
            update={"transactions_topic": topic, "consumer_group": f"tp-{uuid.uuid4().hex[:8]}"}
        )
        if kind == "upsert":
            with psycopg.connect(target.postgres_conninfo()) as conn:
                conn.execute(CREATE_TABLE)
        began = time.monotonic()
        if kind.startswith("stack"):
            options = ["--idle-timeout", "1"] + (["--no-windows"] if kind == "stack" else [])
            process = stack_consume(target, *options)
        else:
            # Committing each second, as the stack does by default: PostgreSQLSink writes at
            # checkpoints, and with its 5 s it would write these events in one INSERT at
            # the end, a first-to-last rate of that one statement, not of consuming.
            process = quix_app(target, kind, "--idle-timeout", "1", "--commit-interval", "1")
        stdout = finished(process, kind)
        wall = time.monotonic() - began
        if kind == "nothing":
            marks = json.loads(stdout.strip().splitlines()[-1])
            return wall, events / (marks["last"] - marks["first"])
        table, column = (
            ("transactions_sink", "updated_at")
            if kind.startswith("stack")
            else (TABLE, "written_at")
        )
        with psycopg.connect(target.postgres_conninfo()) as conn:
            rows, first, last = conn.execute(
                f"SELECT count(*), extract(epoch FROM min({column})),"
                f" extract(epoch FROM max({column})) FROM {table}"
            ).fetchone()
        assert rows == events, (kind, rows, events)
        return wall, events / float(last - first)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.realtime.latency")
    parser.add_argument("--seconds", type=float, default=8.0, help="of each paced stream")
    parser.add_argument("--events", type=int, default=100_000, help="for throughput")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="sized for a shared 2-core machine: 4 s streams, 40,000 events, 2 repeats",
    )
    parser.add_argument(
        "--only", choices=("latency", "throughput", "stream"), help="one of the measurements"
    )
    parser.add_argument("--stream-events", type=int, default=20_000, help="the demo's")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.events, args.repeat = 4.0, 40_000, 2
    print(f"# realtime latency and throughput; {os.cpu_count()} cores, load average {load()}")
    wanted = {args.only} if args.only else {"latency", "throughput", "stream"}
    with bench_services() as settings:
        if "latency" in wanted:
            lat, highest = measure_latency(settings, args.seconds)
        if "throughput" in wanted:
            runs = measure_throughput(settings, args.events, args.repeat)
        if "stream" in wanted:
            streams = measure_stream(settings, args.stream_events, args.repeat)
    if "latency" in wanted:
        report_latency(lat, highest)
    if "throughput" in wanted:
        report_throughput(runs, args.events, args.repeat)
    if "stream" in wanted:
        report_stream(streams, args.stream_events, args.repeat)


def measure_latency(settings: Settings, seconds: float):
    """({(consumer, rate): Latency}, (the highest rate whose p99 holds, its Latency) | None)."""
    lat: dict[tuple[str, int], Latency] = {}
    for rate in RATES:
        for consumer in ("stack", "postgresql"):  # interleaved
            result = latency_run(settings, rate, seconds, consumer)
            lat[(consumer, rate)] = result
            print(
                f"  latency {consumer:10s} at {rate:>6,}/s: {result.line()}  load {load()}",
                flush=True,
            )
    highest = None
    if holds(lat[("stack", RATES[-1])], RATES[-1]):
        highest = (RATES[-1], lat[("stack", RATES[-1])])
        for rate in SEARCH:
            result = latency_run(settings, rate, seconds, "stack")
            print(
                f"  latency {'stack':10s} at {rate:>6,}/s: {result.line()}  load {load()}",
                flush=True,
            )
            if not holds(result, rate):
                break
            highest = (rate, result)
    return lat, highest


THROUGHPUT_KINDS = ("stack", "stack-windows", "upsert", "nothing")


def measure_throughput(settings: Settings, events: int, repeat: int):
    """{kind: [(wall seconds, first-to-last rate)] per repeat}, the kinds interleaved."""
    source = fresh(settings, "tp")
    ensure_topic(source, partitions=1)
    produce(source, count=events, seed=3, update_ratio=0.0)
    return interleaved(
        THROUGHPUT_KINDS,
        repeat,
        lambda kind: throughput_run(settings, source.transactions_topic, events, kind),
        lambda kind, wall, rate: (
            f"throughput {kind:14s}: wall {wall:6.2f} s, first-to-last {rate:9,.0f}/s"
        ),
    )


def interleaved(names, repeat: int, run, line) -> dict[str, list[tuple[float, float]]]:
    """{name: [run(name) per repeat]}, the names taking turns; `line(name, *result)` is
    printed after each run, with the load average."""
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
    for _ in range(repeat):
        for name in names:
            result = run(name)
            runs[name].append(result)
            print(f"  {line(name, *result)}  load {load()}", flush=True)
    return runs


STREAM_WAYS = ("stream", "stream --lead 0", "produce, then consume")


def stream_run(settings: Settings, events: int, way: str) -> tuple[float, float]:
    """(wall seconds, seconds from the last event written to the consumers' end), on a topic,
    groups and database of its own, as a user runs it."""
    with scratch_database(settings, "bench_") as db:
        target = fresh(db, "st")
        ensure_topic(target)
        common = ["--seed", "7", "--bad-ratio", "0.01", "--json"]
        began = time.monotonic()
        if way.startswith("stream"):
            process = start(
                target, "stack", "stream", "--count", str(events), *way.split()[1:], *common
            )
            summary = json.loads(finished(process, way))
            return time.monotonic() - began, summary["after_last_event"]
        finished(start(target, "stack", "produce", "--count", str(events), *common), "produce")
        written = time.monotonic()
        finished(stack_consume(target, "--idle-timeout", "1"), "consume")
        ended = time.monotonic()
        return ended - began, ended - written


def measure_stream(settings: Settings, events: int, repeat: int):
    """{way: [(wall, after the last event)] per repeat}, the ways interleaved."""
    return interleaved(
        STREAM_WAYS,
        repeat,
        lambda way: stream_run(settings, events, way),
        lambda way, wall, after: (
            f"stream {way:22s}: wall {wall:6.2f} s, done {after:5.2f} s after the last event"
        ),
    )


# --- report --------------------------------------------------------------------------------
def report_latency(lat, highest) -> None:
    print(f"\n# latency, ms (write time minus Kafka timestamp); load average now {load()}")
    print(
        f"{'rate':>8} | {'stack (defaults)':>38} | {'Quix PostgreSQLSink (defaults)':>38} | p99 ratio"
    )
    for rate in RATES:
        ours, theirs = lat[("stack", rate)], lat[("postgresql", rate)]
        print(
            f"{rate:>8,} | {ours.p50:7.0f} {ours.p95:7.0f} {ours.p99:7.0f} {ours.max:7.0f} (p50 p95 p99 max)"
            f" | {theirs.p50:7.0f} {theirs.p95:7.0f} {theirs.p99:7.0f} {theirs.max:7.0f}"
            f" | {theirs.p99 / ours.p99:5.1f}x lower"
        )
    print(f"p99 at 2,000/s: {lat[('stack', 2000)].p99:.0f} ms (target < 250 ms)")
    print(f"p99 at 20,000/s: {lat[('stack', 20_000)].p99:.0f} ms (target < 1,000 ms)")
    print(
        "p99, PostgreSQLSink / stack: "
        + ", ".join(
            f"{lat[('postgresql', r)].p99 / lat[('stack', r)].p99:.1f}x at {r:,}/s" for r in RATES
        )
        + " (target >= 5x)"
    )
    if highest:
        print(
            f"highest rate tried with the stack's p99 < 1 s: {highest[0]:,}/s"
            f" (p99 {highest[1].p99:.0f} ms)"
        )
    else:
        print(f"the stack's p99 is not under 1 s at {RATES[-1]:,}/s")


def report_throughput(runs, events: int, repeat: int) -> None:
    def best(kind: str, i: int) -> float:  # the shortest wall, the highest rate
        return min(r[0] for r in runs[kind]) if i == 0 else max(r[1] for r in runs[kind])

    print(f"\n# throughput over {events:,} events (best of {repeat}; wall = start to exit)")
    for kind in THROUGHPUT_KINDS:
        print(f"{kind:14s} wall {best(kind, 0):6.2f} s   first-to-last {best(kind, 1):9,.0f}/s")
    ours = best("stack", 1)
    print(
        f"first-to-last, stack / PostgreSQLSink(upsert): {ours / best('upsert', 1):5.2f}x  (target >= 3x)"
    )
    print(
        f"first-to-last, stack / Quix writing nothing:   {ours / best('nothing', 1):5.2f}x  (target >= 0.7x)"
    )
    print(
        f"wall, PostgreSQLSink(upsert) / stack:          {best('upsert', 0) / best('stack', 0):5.2f}x"
    )
    print(
        f"wall, Quix writing nothing / stack:            {best('nothing', 0) / best('stack', 0):5.2f}x"
    )


def report_stream(runs, events: int, repeat: int) -> None:
    def median(values: list[float]) -> float:
        return sorted(values)[len(values) // 2]

    print(f"\n# the demo's realtime step, {events:,} events (median of {repeat})")
    for way in STREAM_WAYS:
        wall = median([r[0] for r in runs[way]])
        after = median([r[1] for r in runs[way]])
        print(f"{way:22s} wall {wall:6.2f} s   done {after:5.2f} s after the last event")
    ours = median([r[1] for r in runs["stream"]])
    before = median([r[1] for r in runs["produce, then consume"]])
    print(
        f"after the last event, stream: {ours:.2f} s (target: a couple of seconds), "
        f"{before / ours:.1f}x sooner than produce-then-consume"
    )
    print(
        "wall, produce-then-consume / stream: "
        f"{median([r[0] for r in runs['produce, then consume']]) / median([r[0] for r in runs['stream']]):.2f}x"
    )


if __name__ == "__main__":
    main()
