"""Airflow's cost over calling the same jobs directly, measured in one run on one database.

1. A run with nothing new to load: `load_postgres_to_snowflake` (load + dbt build) triggered
   through the REST API of the local Airflow and waited for, vs `stack.jobs.load_warehouse`
   + `stack.jobs.transform` called in this process. Target: within 3x, or under 20 s.
2. The same after every one of --rows card transactions changed. Target: within 1.2x.
3. The local Airflow (api-server, scheduler, dag-processor, triggerer) from cold to healthy:
   first start (metadata database created and migrated) and a restart. Target: < 90 s.
4. Its memory once healthy and idle: PSS summed over every process of the four components.
   Target: < 1.5 GB.

Runs in the airflow env: `just bench airflow` or
`hatch run airflow:python -m bench.airflow [--rows N] [--repeat N]`.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from bench import bench_services, print_results
from bench.warehouse.__main__ import fill_sources
from stack import jobs
from stack.orchestration.client import run_dag
from stack.orchestration.local import LocalAirflow, group_members
from stack.services.ephemeral import free_port, scratch_database

DAG = "load_postgres_to_snowflake"


def direct(settings) -> float:
    started = time.perf_counter()
    jobs.load_warehouse(settings)
    jobs.transform(settings)
    return time.perf_counter() - started


def through_airflow(settings) -> float:
    started = time.perf_counter()
    result = run_dag(settings, DAG, poll=0.5)
    if result.state != "success":
        raise SystemExit(f"{DAG} run {result.run_id} ended {result.state}: {result.tasks}")
    return time.perf_counter() - started


def change_every_row(settings) -> None:
    with psycopg.connect(settings.postgres_conninfo(), autocommit=True) as conn:
        conn.execute(
            "UPDATE transactions_sink SET version = version + 1, updated_at = clock_timestamp()"
        )


def pss_bytes(airflow: LocalAirflow) -> int:
    total = 0
    for pgid in airflow.pids().values():
        for pid in group_members(pgid):
            try:
                for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                    if line.startswith("Pss:"):
                        total += int(line.split()[1]) * 1024
            except OSError:
                continue
    return total


def timed_up(airflow: LocalAirflow) -> float:
    started = time.perf_counter()
    airflow.up()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.airflow")
    parser.add_argument("--rows", type=int, default=1_000_000, help="card transactions")
    parser.add_argument("--repeat", type=int, default=3, help="runs per no-op measurement")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="stack-bench-airflow-", dir="/tmp"))
    work.chmod(0o755)
    results: list[tuple[str, str, str, str]] = []
    with (
        bench_services("postgres") as server,
        scratch_database(server, "bench_", warehouse_duckdb_path=work / "warehouse.duckdb") as db,
    ):
        settings = db.model_copy(
            update={
                "stack_home": work,
                "airflow_db": f"airflow_{db.postgres_db}",
                "airflow_port": free_port(),
                "airflow_executable": Path(sys.executable).with_name("airflow"),
            }
        )
        airflow = LocalAirflow(settings)
        try:
            fill_sources(settings, args.rows)
            direct(settings)  # the first full load and build: both sides start from here

            cold = timed_up(airflow)
            pss_first = pss_bytes(airflow)
            airflow.down()
            warm = timed_up(airflow)
            time.sleep(10)  # idle
            pss = pss_bytes(airflow)
            for label, seconds in (
                ("local Airflow cold start to healthy (migrate included)", cold),
                ("local Airflow restart to healthy", warm),
            ):
                met = "met" if seconds < 90 else "MISSED"
                results.append((label, f"{seconds:.0f} s", "", f"{met}: < 90 s"))
            results.append(
                (
                    "local Airflow memory (PSS, idle)",
                    f"{pss / 2**30:.2f} GB",
                    f"just after start: {pss_first / 2**30:.2f} GB",
                    f"{'met' if pss < 1.5 * 2**30 else 'MISSED'}: < 1.5 GB",
                )
            )

            through_airflow(settings)  # unpauses the DAG, waits for its parse
            ours = [through_airflow(settings) for _ in range(args.repeat)]
            base = [direct(settings) for _ in range(args.repeat)]
            ratio = min(ours) / min(base)
            met = "met" if ratio <= 3 or min(ours) < 20 else "MISSED"
            results.append(
                (
                    "DAG run, nothing new (load + dbt build)",
                    f"{min(ours):.1f} s",
                    f"direct calls: {min(base):.1f} s",
                    f"{ratio:.2f}x ({met}: <= 3x or < 20 s)",
                )
            )

            change_every_row(settings)
            base_changed = direct(settings)
            change_every_row(settings)
            ours_changed = through_airflow(settings)
            ratio = ours_changed / base_changed
            results.append(
                (
                    f"DAG run, {args.rows:,} changed rows",
                    f"{ours_changed:.1f} s",
                    f"direct calls: {base_changed:.1f} s",
                    f"{ratio:.2f}x ({'met' if ratio <= 1.2 else 'MISSED'}: <= 1.2x)",
                )
            )
        finally:
            airflow.down()
            shutil.rmtree(work, ignore_errors=True)

    print_results(results, f"best of {args.repeat} runs for the no-op runs")


if __name__ == "__main__":
    main()
