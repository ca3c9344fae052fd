"""Batch ingest speed against baselines measured in the same run, on the same database.

CSV: `stack batch ingest` of one statement CSV (validation, COPY, manifest: end to end) vs
`psql \\copy` of the same file into a bare table (same columns, no key, no index) and into a
table with batch_transactions' key and indexes, and vs `pandas.to_sql` (a smaller slice: it
is slow). PDF: `stack batch ingest` of a folder of statements and invoices (parsed in worker
processes, written to PostgreSQL) vs single-process pdfplumber extracting the same text and
tables from the same files (no database at all).

Each measurement runs --repeat times, interleaved; the best run counts (the machine is
shared: the best run is the one least disturbed). Run: `just bench batch` or
`hatch run python -m bench.batch [--rows N] [--pdfs N] [--repeat N]`.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pdfplumber
import psycopg

from bench import bench_services
from stack.batch.formats import CSV_COLUMNS
from stack.batch.generate import generate
from stack.batch.ingest import ingest
from stack.services.ephemeral import scratch_database
from stack.settings import Settings

PSQL = shutil.which("psql") or "/usr/bin/psql"
CSV_NAMES = ", ".join(CSV_COLUMNS)
COLUMNS = (
    "transaction_id text, account_id text, posted_date date, description text, merchant text,"
    " category text, amount numeric(12,2), currency text"
)


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def stack_ingest(settings: Settings, folder: Path, scratch: Path) -> float:
    with scratch_database(settings, "bench_") as db:
        rejected = scratch / f"rejected-{uuid.uuid4().hex[:6]}"
        seconds = timed(lambda: ingest(db, incoming_dir=folder, rejected_dir=rejected))
        assert not rejected.exists(), "the benchmark files must all load"
        return seconds


def psql_copy(settings: Settings, path: Path, table_sql: str) -> float:
    with scratch_database(settings, "bench_") as db:
        with psycopg.connect(db.postgres_conninfo(), autocommit=True) as conn:
            conn.execute(table_sql)
        env = {**os.environ, "PGPASSWORD": db.postgres_password.get_secret_value()}
        command = [
            PSQL,
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            db.postgres_host,
            "-p",
            str(db.postgres_port),
            "-U",
            db.postgres_user,
            "-d",
            db.postgres_db,
            "-c",
            f"\\copy target ({CSV_NAMES}) FROM '{path}' (FORMAT csv, HEADER true)",
        ]
        return timed(lambda: subprocess.run(command, env=env, check=True))


def pandas_to_sql(settings: Settings, data: bytes) -> float:
    import pandas as pd
    from sqlalchemy import create_engine

    with scratch_database(settings, "bench_") as db:
        engine = create_engine(db.postgres_url("postgresql+psycopg2"))
        try:

            def load() -> None:
                frame = pd.read_csv(io.BytesIO(data), dtype=str)
                frame.to_sql("target", engine, index=False, if_exists="append", chunksize=10_000)

            return timed(load)
        finally:
            engine.dispose()


def pdfplumber_single_process(paths: list[Path]) -> float:
    def parse_all() -> None:
        for path in paths:
            with pdfplumber.open(path) as pdf:
                for page in pdf.pages:
                    page.extract_text()
                    page.extract_tables()

    return timed(parse_all)


def best(runs: list[float]) -> float:
    return min(runs)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.batch")
    parser.add_argument("--rows", type=int, default=300_000, help="rows in the CSV")
    parser.add_argument("--pandas-rows", type=int, default=50_000, help="rows for to_sql")
    parser.add_argument("--pdfs", type=int, default=120, help="PDFs to parse")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="stack-bench-batch-"))
    load_before = os.getloadavg()
    try:
        csv_dir, pdf_dir = scratch / "csv", scratch / "pdf"
        generate(
            out_dir=csv_dir,
            months="2025-01",
            rows_per_month=args.rows,
            pdfs_per_month=0,
            seed=1,
        )
        months = max(1, -(-args.pdfs // 40))
        generate(
            out_dir=pdf_dir,
            months=f"2025-01:2025-{months:02d}",
            rows_per_month=1,
            pdfs_per_month=-(-args.pdfs // months),
            seed=1,
        )
        for extra in pdf_dir.rglob("*.csv"):
            extra.unlink()
        csv_path = next(csv_dir.rglob("*.csv"))
        csv_mb = csv_path.stat().st_size / 1e6
        pdfs = sorted(pdf_dir.rglob("*.pdf"))
        pages = sum(len(pdfplumber.open(p).pages) for p in pdfs)
        head = b"".join(csv_path.read_bytes().splitlines(keepends=True)[: args.pandas_rows + 1])

        with bench_services("postgres") as settings:
            runs: dict[str, list[float]] = {}
            bare = f"CREATE TABLE target ({COLUMNS})"
            keyed = (
                f"CREATE TABLE target ({COLUMNS.replace('id text', 'id text PRIMARY KEY', 1)},"
                " updated_at timestamptz NOT NULL DEFAULT clock_timestamp());"
                " CREATE INDEX ON target USING brin (updated_at)"
            )
            for _ in range(args.repeat):
                runs.setdefault("stack ingest (csv)", []).append(
                    stack_ingest(settings, csv_dir, scratch)
                )
                runs.setdefault("psql \\copy, bare table", []).append(
                    psql_copy(settings, csv_path, bare)
                )
                runs.setdefault("psql \\copy, keyed table", []).append(
                    psql_copy(settings, csv_path, keyed)
                )
                runs.setdefault("stack ingest (pdf)", []).append(
                    stack_ingest(settings, pdf_dir, scratch)
                )
                runs.setdefault("pdfplumber, 1 process", []).append(pdfplumber_single_process(pdfs))
            runs["pandas.to_sql"] = [pandas_to_sql(settings, head)]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    rows_per_s = {
        name: args.rows / best(runs[name])
        for name in ("stack ingest (csv)", "psql \\copy, bare table", "psql \\copy, keyed table")
    }
    rows_per_s["pandas.to_sql"] = args.pandas_rows / best(runs["pandas.to_sql"])
    pages_per_s = {
        name: pages / best(runs[name]) for name in ("stack ingest (pdf)", "pdfplumber, 1 process")
    }
    ours_csv, ours_pdf = rows_per_s["stack ingest (csv)"], pages_per_s["stack ingest (pdf)"]

    print(
        f"machine: {os.cpu_count()} cores; load average {load_before[0]:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after; best of {args.repeat}"
    )
    print(f"CSV: {args.rows} rows ({csv_mb:.1f} MB)")
    for name, rate in rows_per_s.items():
        print(f"  {name:28} {rate:>10,.0f} rows/s   stack/this = {ours_csv / rate:5.2f}x")
    print(f"PDF: {len(pdfs)} files, {pages} pages")
    for name, rate in pages_per_s.items():
        print(f"  {name:28} {rate:>10,.1f} pages/s  stack/this = {ours_pdf / rate:5.2f}x")
    print("targets: csv >= 0.70x psql \\copy (bare table); pdf >= 1.70x one process on 2 cores")


if __name__ == "__main__":
    main()
