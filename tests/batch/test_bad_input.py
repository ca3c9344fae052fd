"""Known-bad files and rows: each refused with its reason, nothing lost, the rest loads.

One generate + one ingest (through the CLI, as a user runs it) for the whole module; the
tests then look at what that run left behind.
"""

from __future__ import annotations

import json

import pytest

from stack.batch.bad_files import BAD_FILES, BAD_ROWS, BAD_ROWS_FILE
from stack.batch.generate import generate
from stack.batch.reasons import FILE_REASONS, ROW_REASONS
from tests.helpers import query, run_stack

MONTH = "2025-01"
GOOD_FILES = [
    f"{m}/{name}"
    for m in ("2025-01", "2025-02")
    for name in (
        f"transactions_{m}.csv",
        f"statement_{m}_001.pdf",
        f"invoice_{m}_001.pdf",
    )
] + [f"{MONTH}/{BAD_ROWS_FILE.format(month=MONTH)}"]
BAD_ROWS_PATH = f"{MONTH}/{BAD_ROWS_FILE.format(month=MONTH)}"


@pytest.fixture(scope="module")
def bad_run(module_db):
    generated = generate(
        module_db,
        months="2025-01:2025-02",
        rows_per_month=120,
        pdfs_per_month=2,
        seed=21,
        with_bad=True,
    )
    result = run_stack(module_db, "batch", "ingest", "--json")
    return generated, result, json.loads(result.stdout)


def test_there_are_at_least_eight_kinds_of_bad_file():
    assert len(set(BAD_FILES.values())) >= 8
    assert set(BAD_FILES.values()) <= set(FILE_REASONS)


@pytest.mark.parametrize(("name", "reason"), sorted(BAD_FILES.items()))
def test_each_bad_file_fails_with_its_reason_and_is_quarantined(module_db, bad_run, name, reason):
    relative = f"{MONTH}/{name.format(month=MONTH)}"
    _, _, summary = bad_run
    (result,) = [f for f in summary["file_results"] if f["path"] == relative]
    assert (result["outcome"], result["reason"]) == ("failed", reason), result
    assert result["detail"]
    manifest = query(
        module_db,
        "SELECT status, reason, error, moved_to FROM ingest_files WHERE path = %s",
        (relative,),
    )
    assert [(status, why) for status, why, _, _ in manifest] == [("failed", reason)]
    error, moved_to = manifest[0][2], manifest[0][3]
    assert error.startswith(f"{reason}: ")
    # moved out of the incoming directory, kept in the rejected one, with the reason beside it
    assert not (module_db.batch_incoming_dir / relative).exists()
    moved = module_db.batch_rejected_dir / relative
    assert moved_to == str(moved) and moved.exists()
    note = moved.with_name(moved.name + ".reason.txt").read_text()
    assert f"reason: {reason}\n" in note and f"file: {relative}\n" in note


# What the message says the file is, and what to do (the words a user needs).
SAYS = {
    "invoice_truncated.pdf": ["truncated", "ask for the file again"],
    "invoice_damaged_stream.pdf": ["content stream", "damaged", "ask for the file again"],
    "statement_scanned.pdf": ["no text layer", "an image (a scan?)", "OCR"],
    "statement_jpy_overflow.pdf": ["12,345,678,901.00", "numeric(12,2)"],
    "statement_period_reversed.pdf": ["ends before it starts"],
    "invoice_quantity_too_precise.pdf": ["1.2345", "more than 3 decimals", "rounded"],
    "transactions_{month}_saved_as_pdf.csv": ["is a PDF", "rename it to .pdf"],
    "not_a_pdf.pdf": ["is text, not a PDF"],
}


@pytest.mark.parametrize(("name", "words"), sorted(SAYS.items()))
def test_the_message_says_what_the_file_is_and_what_to_do(bad_run, name, words):
    _, _, summary = bad_run
    relative = f"{MONTH}/{name.format(month=MONTH)}"
    (result,) = [f for f in summary["file_results"] if f["path"] == relative]
    for word in words:
        assert word in result["detail"], result["detail"]


def test_good_files_load_beside_the_bad_ones(module_db, bad_run):
    generated, _, summary = bad_run
    assert summary["files"]["failed"] == len(BAD_FILES)
    assert (
        summary["files"]["loaded"]
        == generated.csv_files + generated.statements + generated.invoices
    )
    statuses = dict(query(module_db, "SELECT path, status FROM ingest_files"))
    assert all(statuses[path] == "loaded" for path in GOOD_FILES), statuses
    assert (
        query(module_db, "SELECT count(*) FROM batch_transactions")[0][0]
        == generated.transactions
        == summary["transactions"]
    )
    assert (
        query(module_db, "SELECT count(*) FROM documents")[0][0]
        == generated.statements + generated.invoices
    )


def test_exit_code_and_summary_say_what_failed_and_where(bad_run):
    _, result, summary = bad_run
    assert result.returncode == 1
    assert summary["exit_code"] == 1
    assert summary["failed_by_reason"]["corrupt_pdf"] == 3
    assert "Traceback" not in result.stderr
    # the human summary names the file, the line and the field
    assert f"{BAD_ROWS_PATH}:4 posted_date: bad_date" in result.stderr
    assert f"{MONTH}/statement_encrypted.pdf: encrypted_pdf" in result.stderr


@pytest.mark.parametrize(
    ("line", "reason"), sorted((k, v) for k, v in BAD_ROWS.items() if v is not None)
)
def test_each_bad_row_becomes_a_reject(module_db, bad_run, line, reason):
    rejects = query(
        module_db,
        "SELECT r.reason, r.detail, r.raw, r.file_sha256 = f.sha256"
        " FROM ingest_rejects r JOIN ingest_files f ON f.path = r.file"
        " WHERE r.file = %s AND r.line = %s",
        (BAD_ROWS_PATH, line),
    )
    assert len(rejects) == 1, rejects
    got, detail, raw, same_version = rejects[0]
    assert got == reason and detail and same_version
    source = (module_db.batch_incoming_dir / BAD_ROWS_PATH).read_text().splitlines()
    assert raw == source[line - 1]  # the line as it was in the file


def test_every_row_reason_is_exercised_and_only_good_rows_load(module_db, bad_run):
    assert set(BAD_ROWS.values()) - {None} == set(ROW_REASONS)
    loaded = query(
        module_db,
        "SELECT source_line FROM batch_transactions WHERE source_file = %s ORDER BY 1",
        (BAD_ROWS_PATH,),
    )
    assert [line for (line,) in loaded] == sorted(k for k, v in BAD_ROWS.items() if v is None)
    assert query(module_db, "SELECT count(*), max(line) FROM ingest_rejects") == [
        (sum(v is not None for v in BAD_ROWS.values()), max(k for k, v in BAD_ROWS.items() if v))
    ]
    _, _, summary = bad_run
    assert summary["rejected_rows"] == sum(v is not None for v in BAD_ROWS.values())


def test_a_rerun_after_quarantine_is_clean(module_db, bad_run):
    again = run_stack(module_db, "batch", "ingest", "--json")
    summary = json.loads(again.stdout)
    assert again.returncode == 0, again.stderr
    assert summary["files"]["failed"] == summary["files"]["loaded"] == 0
    assert summary["files"]["skipped"] == len(GOOD_FILES)
