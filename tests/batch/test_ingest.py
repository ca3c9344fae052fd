"""`stack batch ingest` against real PostgreSQL: counts, cents, idempotency, replacement."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import subprocess
import sys
from decimal import Decimal

import pytest

from stack.batch.generate import generate
from stack.batch.ingest import ingest
from stack.settings import PROJECT_ROOT
from tests.batch.helpers import MONTHS, PDFS, ROWS
from tests.helpers import query


def _csv_totals(settings) -> dict[str, tuple[int, Decimal]]:
    """Rows and amount per CSV, read straight from the files."""
    totals = {}
    for path in sorted(settings.batch_incoming_dir.rglob("*.csv")):
        with path.open(newline="") as handle:
            amounts = [Decimal(row["amount"]) for row in csv.DictReader(handle)]
        totals[path.relative_to(settings.batch_incoming_dir).as_posix()] = (
            len(amounts),
            sum(amounts, Decimal("0.00")),
        )
    return totals


def _snapshot(settings) -> list:
    """Everything the ingest wrote, with the write times: a rerun must leave it identical."""
    return [
        query(
            settings,
            "SELECT path, sha256, status, rows, rejected_rows, ingested_at, updated_at"
            " FROM ingest_files ORDER BY path",
        ),
        query(
            settings,
            "SELECT transaction_id, amount, source_file, source_line, file_sha256,"
            " updated_at FROM batch_transactions ORDER BY transaction_id",
        ),
        query(settings, "SELECT document_id, path, total, updated_at FROM documents ORDER BY 1"),
        query(
            settings,
            "SELECT document_id, line_no, amount, updated_at"
            " FROM document_line_items ORDER BY 1, 2",
        ),
        query(settings, "SELECT * FROM ingest_rejects ORDER BY reject_id"),
    ]


def test_ingested_counts_and_amounts_equal_the_generated_files(batch):
    summary = ingest(batch)
    assert summary.exit_code == 0
    assert summary.count("failed") == 0 and summary.rejected_rows == 0
    months = len(MONTHS.split(":"))
    assert summary.count("loaded") == months * (1 + PDFS)

    expected = _csv_totals(batch)
    loaded = {
        source: (count, total)
        for source, count, total in query(
            batch, "SELECT source_file, count(*), sum(amount) FROM batch_transactions GROUP BY 1"
        )
    }
    assert loaded == expected  # every row, every cent, per file
    assert summary.transactions == months * ROWS

    # typed, with their origin: the row on line 2 is the first row of its file
    first = query(
        batch,
        "SELECT t.transaction_id, t.posted_date::text, t.amount, t.currency,"
        " t.file_sha256 = f.sha256 FROM batch_transactions t"
        " JOIN ingest_files f ON f.path = t.source_file"
        " WHERE t.source_file = '2025-01/transactions_2025-01.csv'"
        " AND t.source_line = 2",
    )
    with (batch.batch_incoming_dir / "2025-01/transactions_2025-01.csv").open() as handle:
        row = next(csv.DictReader(handle))
    assert first == [
        (row["transaction_id"], row["posted_date"], Decimal(row["amount"]), row["currency"], True)
    ]

    kinds = dict(query(batch, "SELECT kind, count(*) FROM documents GROUP BY 1"))
    assert kinds == {"statement": months * PDFS // 2, "invoice": months * PDFS // 2}
    assert query(batch, "SELECT count(*) FROM documents WHERE page_count < 1 OR text = ''") == [
        (0,)
    ]
    items = query(batch, "SELECT count(*) FROM document_line_items")[0][0]
    assert items == summary.line_items > 0


@pytest.mark.parametrize("workers", [None, 1], ids=["worker-processes", "in-process"])
def test_pdf_line_items_sum_to_the_document_totals(batch, workers):
    ingest(batch, workers=workers)
    rows = query(
        batch,
        """
        SELECT d.path, d.kind, d.opening_balance, d.closing_balance, d.subtotal, d.tax, d.total,
               sum(l.amount), count(*), bool_and(l.quantity IS NULL OR
                   round(l.quantity * l.unit_price, 2) = l.amount)
        FROM documents d JOIN document_line_items l USING (document_id)
        GROUP BY d.document_id""",
    )
    assert len(rows) == 2 * PDFS
    for path, kind, opening, closing, subtotal, tax, total, items, count, lines_ok in rows:
        assert count >= 2, path
        assert lines_ok, path
        if kind == "invoice":
            assert items == subtotal and subtotal + tax == total, path
        else:
            assert opening + items == closing and items == total, path
    # the statement header made it into typed columns
    assert query(
        batch,
        "SELECT count(*) FROM documents WHERE kind = 'statement' AND"
        " (account_id IS NULL OR period_start IS NULL OR currency IS NULL)",
    ) == [(0,)]
    assert query(
        batch,
        "SELECT count(*) FROM documents WHERE kind = 'invoice' AND"
        " (vendor IS NULL OR reference IS NULL OR due_on < issued_on)",
    ) == [(0,)]


def test_second_run_changes_nothing(batch):
    ingest(batch)
    before = _snapshot(batch)
    again = ingest(batch)
    assert again.count("skipped") == len(again.files) == 2 * (1 + PDFS)
    assert again.transactions == again.documents == 0
    assert again.exit_code == 0
    assert _snapshot(batch) == before


def test_changed_csv_replaces_its_rows_not_doubles_them(batch):
    ingest(batch)
    path = batch.batch_incoming_dir / "2025-01/transactions_2025-01.csv"
    lines = path.read_text().splitlines(keepends=True)
    # the new version: 100 rows fewer, and one amount corrected
    kept = lines[: len(lines) - 100]
    fields = next(csv.reader([kept[1]]))
    fields[6] = "-1.00"
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(fields)
    kept[1] = buffer.getvalue()
    path.write_text("".join(kept))
    sha = hashlib.sha256(path.read_bytes()).hexdigest()

    summary = ingest(batch)
    replaced = [f for f in summary.files if f.outcome == "replaced"]
    assert [f.path for f in replaced] == ["2025-01/transactions_2025-01.csv"]
    assert summary.count("skipped") == len(summary.files) - 1
    rows = query(
        batch,
        "SELECT count(*), count(DISTINCT file_sha256), min(file_sha256)"
        " FROM batch_transactions WHERE source_file = %s",
        ("2025-01/transactions_2025-01.csv",),
    )
    assert rows == [(ROWS - 100, 1, sha)]
    assert query(
        batch,
        "SELECT amount FROM batch_transactions WHERE source_line = 2 AND"
        " source_file = '2025-01/transactions_2025-01.csv'",
    ) == [(Decimal("-1.00"),)]
    assert query(
        batch,
        "SELECT sha256, rows FROM ingest_files WHERE path = %s",
        ("2025-01/transactions_2025-01.csv",),
    ) == [(sha, ROWS - 100)]
    assert query(batch, "SELECT count(*) FROM batch_transactions")[0][0] == 2 * ROWS - 100


def test_changed_pdf_replaces_its_document_and_line_items(batch, tmp_path):
    ingest(batch)
    name = "2025-02/invoice_2025-02_001.pdf"
    old_id = hashlib.sha256((batch.batch_incoming_dir / name).read_bytes()).hexdigest()
    # a different invoice delivered under the same name
    generate(
        out_dir=tmp_path / "other",
        months="2025-02",
        rows_per_month=1,
        pdfs_per_month=2,
        seed=99,
    )
    new_bytes = (tmp_path / "other" / name).read_bytes()
    (batch.batch_incoming_dir / name).write_bytes(new_bytes)
    new_id = hashlib.sha256(new_bytes).hexdigest()

    summary = ingest(batch)
    assert [(f.path, f.outcome) for f in summary.files if f.outcome != "skipped"] == [
        (name, "replaced")
    ]
    assert query(batch, "SELECT document_id FROM documents WHERE path = %s", (name,)) == [(new_id,)]
    assert query(
        batch, "SELECT count(*) FROM document_line_items WHERE document_id = %s", (old_id,)
    ) == [(0,)]
    assert (
        query(batch, "SELECT count(*) FROM document_line_items WHERE document_id = %s", (new_id,))[
            0
        ][0]
        == summary.line_items
        > 0
    )
    assert query(batch, "SELECT count(*) FROM documents")[0][0] == 2 * PDFS


def test_a_bad_new_version_is_quarantined_and_the_loaded_rows_stay(batch):
    ingest(batch)
    name = "2025-02/transactions_2025-02.csv"
    path = batch.batch_incoming_dir / name
    path.write_bytes(path.read_bytes().replace(b"CARD PAYMENT", "Caf\u00e9".encode("latin-1"), 1))

    summary = ingest(batch)
    (failed,) = [f for f in summary.files if f.outcome == "failed"]
    assert (failed.path, failed.reason) == (name, "not_utf8")
    assert f"the {ROWS} rows of the version loaded before stay loaded" in failed.detail
    assert summary.exit_code == 1
    assert not path.exists()
    assert (batch.batch_rejected_dir / name).exists()
    assert query(batch, "SELECT status, reason FROM ingest_files WHERE path = %s", (name,)) == [
        ("failed", "not_utf8")
    ]
    assert query(
        batch, "SELECT count(*) FROM batch_transactions WHERE source_file = %s", (name,)
    ) == [(ROWS,)]


def test_cli_ingest_json_and_exit_codes(stack_cli, batch):
    env = {
        "BATCH_INCOMING_DIR": str(batch.batch_incoming_dir),
        "BATCH_REJECTED_DIR": str(batch.batch_rejected_dir),
    }
    first = stack_cli("batch", "ingest", "--json", extra_env=env)
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert summary["files"] == {
        "loaded": 2 * (1 + PDFS),
        "replaced": 0,
        "skipped": 0,
        "failed": 0,
        "error": 0,
    }
    assert summary["transactions"] == 2 * ROWS
    assert summary["exit_code"] == 0
    assert f"{2 * ROWS} transactions" in first.stderr  # the human summary, beside the JSON

    second = stack_cli("batch", "ingest", "--json", extra_env=env)
    assert second.returncode == 0
    assert json.loads(second.stdout)["files"]["skipped"] == 2 * (1 + PDFS)

    missing = stack_cli("batch", "ingest", "--dir", str(batch.batch_incoming_dir / "nope"))
    assert missing.returncode == 2
    assert "nope" in missing.stderr and "Traceback" not in missing.stderr

    unreachable = stack_cli("batch", "ingest", extra_env={**env, "POSTGRES_PORT": "1"})
    assert unreachable.returncode == 3
    assert "PostgreSQL" in unreachable.stderr and "Traceback" not in unreachable.stderr


def test_status_reports_the_batch_tables(stack_cli, batch):
    ingest(batch)
    report = json.loads(stack_cli("status", "--json").stdout)
    section = report["pipelines"]["batch"]
    assert section["transactions"] == 2 * ROWS
    assert section["documents"] == 2 * PDFS
    assert section["files_loaded"] == 2 * (1 + PDFS)
    assert section["files_failed"] == section["files_error"] == section["rejected_rows"] == 0


def test_two_ingests_at_once_load_each_file_once(batch):
    # Two runs race on the same directory: the advisory lock makes the second wait, then
    # find everything loaded.
    env = {**os.environ, **batch.as_env()}
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "stack", "batch", "ingest", "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=PROJECT_ROOT,
        )
        for _ in range(2)
    ]
    results = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], results
    outcomes = sorted(tuple(sorted(json.loads(out)["files"].items())) for out, _ in results)
    files = 2 * (1 + PDFS)
    assert [dict(o)["loaded"] + dict(o)["skipped"] for o in outcomes] == [files, files]
    assert sum(dict(o)["loaded"] for o in outcomes) == files
    assert query(batch, "SELECT count(*) FROM batch_transactions")[0][0] == 2 * ROWS
