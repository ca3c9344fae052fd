"""A bounded, seeded mutation test: valid CSVs and PDFs, damaged the ways files get damaged
(truncated, bytes flipped, quotes, delimiters and line breaks inserted, lines dropped or
doubled, other encodings), ingested in one run. No traceback, no hang, no internal error;
each file loaded or quarantined with a reason; and for each loaded CSV every line is
accounted for: each non-blank line lies in exactly one loaded row or one reject."""

from __future__ import annotations

import hashlib
import random

import pytest

from stack.batch import csv_ingest
from stack.batch.reasons import FILE_REASONS, ROW_REASONS
from tests.batch.files import csv_text, ingest_files, invoice_pdf, rows, statement_pdf
from tests.helpers import query

SEED = 20261202
CSV_MUTANTS = 48
PDF_MUTANTS = 24


def _csv_mutant(rng: random.Random, base: str) -> bytes:
    data = base.encode()
    kind = rng.choice(
        ["truncate", "flip", "quote", "delimiter", "newline", "drop", "double", "encoding", "nul"]
    )
    at = rng.randrange(len(data))
    if kind == "truncate":
        return data[: max(at, 1)]
    if kind == "flip":
        return data[:at] + bytes([data[at] ^ (1 << rng.randrange(8))]) + data[at + 1 :]
    if kind in ("quote", "delimiter", "newline"):
        inserted = {
            "quote": [b'"', b'""', b'"x'],
            "delimiter": [b",", b";", b",,", b"\t"],
            "newline": [b"\n", b"\r\n", b"\n\n", b"\r"],
        }[kind]
        return data[:at] + rng.choice(inserted) + data[at:]
    lines = base.split("\n")
    line = rng.randrange(1, len(lines) - 1)
    if kind == "drop":
        return "\n".join(lines[:line] + lines[line + 1 :]).encode()
    if kind == "double":
        return "\n".join(lines[: line + 1] + lines[line:]).encode()
    if kind == "encoding":
        text = base.replace("CARD PAYMENT", "CARD PAYMENT Café Müller ©", 3)
        return text.encode(rng.choice(["latin-1", "cp1252", "utf-16", "utf-8-sig", "utf-16-be"]))
    return data[:at] + b"\x00" + data[at:]


def _pdf_mutant(rng: random.Random, base: bytes) -> bytes:
    kind = rng.choice(["truncate", "flip", "flips", "insert", "zero", "prefix", "suffix"])
    at = rng.randrange(len(base))
    if kind == "truncate":
        return base[:at]
    if kind == "flip":
        return base[:at] + bytes([base[at] ^ 0xFF]) + base[at + 1 :]
    if kind == "flips":
        data = bytearray(base)
        for _ in range(8):
            data[rng.randrange(len(data))] = rng.randrange(256)
        return bytes(data)
    if kind == "insert":
        return base[:at] + rng.randbytes(rng.randint(1, 40)) + base[at:]
    if kind == "zero":
        return base[:at] + bytes(min(200, len(base) - at)) + base[at + 200 :]
    if kind == "prefix":
        return rng.choice([b"\xef\xbb\xbf", b"\r\n", b"junk\n", rng.randbytes(2000)]) + base
    return base + rng.choice([b"\x00" * 100, b"\n%%EOF\n", rng.randbytes(3000)])


def _mutants() -> dict[str, bytes]:
    rng = random.Random(SEED)
    data = rows(60)
    for index in range(0, 60, 9):  # some quoted line breaks and accounting forms to damage
        data[index][3] += "\nsecond line"
        data[index + 1][6] = f"({data[index + 1][6].lstrip('-')})"
    base_csv = csv_text(data)
    pdfs = [statement_pdf(), invoice_pdf()]
    made: dict[str, bytes] = {}
    seen: set[str] = set()
    for number in range(CSV_MUTANTS + PDF_MUTANTS):
        if number < CSV_MUTANTS:
            name, content = f"m{number:03d}.csv", _csv_mutant(rng, base_csv)
        else:
            name, content = f"m{number:03d}.pdf", _pdf_mutant(rng, rng.choice(pdfs))
        digest = hashlib.sha256(content).hexdigest()
        if content and digest not in seen:  # no duplicate_file, no empty_file: not the point
            seen.add(digest)
            made[name] = content
    return made


def _physical_lines(data: bytes) -> list[str] | None:
    """The file's lines as text (numbered from 1), decoded the way the docs promise."""
    for bom, codec in ((b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"), (b"", "utf-8-sig")):
        if data.startswith(bom):
            try:
                text = data.decode(codec)
            except UnicodeDecodeError:
                return None
            break
    return text[:-1].split("\n") if text.endswith("\n") else text.split("\n")


@pytest.mark.timeout(300)
def test_damaged_files_never_crash_hang_or_lose_a_line(settings, tmp_path, monkeypatch, capfd):
    monkeypatch.setattr(csv_ingest, "BLOCK_SIZE", 1024)  # records cross block boundaries
    files = _mutants()
    configured, summary = ingest_files(
        settings, tmp_path, files, update={"batch_pdf_timeout_seconds": 20}, workers=2
    )

    assert "Traceback" not in capfd.readouterr().err
    assert summary.exit_code in (0, 1), [f for f in summary.files if f.outcome == "error"]
    assert sorted(f.path for f in summary.files) == sorted(files)
    outcomes = {"loaded": 0, "failed": 0}
    for result in summary.files:
        outcomes[result.outcome] += 1
        if result.outcome == "failed":
            assert result.reason in FILE_REASONS and result.detail, result
            moved = configured.batch_rejected_dir / result.path
            assert moved.exists() and moved.with_name(moved.name + ".reason.txt").exists()
        elif result.path.endswith(".csv"):
            _check_every_line(configured, files[result.path], result)
    assert outcomes["loaded"] >= 10 and outcomes["failed"] >= 10, outcomes  # a real mix


def _check_every_line(settings, data: bytes, result) -> None:
    lines = _physical_lines(data)
    assert lines is not None, result
    covered: dict[int, str] = {}

    def cover(first: int, span: int, what: str) -> None:
        for line in range(first, first + span):
            assert 2 <= line <= len(lines), (result.path, what, line, len(lines))
            assert line not in covered, (result.path, what, covered[line], line)
            covered[line] = what

    loaded = query(
        settings,
        "SELECT source_line, transaction_id, account_id, description, merchant, category,"
        " currency FROM batch_transactions WHERE source_file = %s",
        (result.path,),
    )
    for line, *values in loaded:
        cover(line, 1 + sum(value.count("\n") for value in values), "loaded")
    rejects = query(
        settings, "SELECT line, reason, raw FROM ingest_rejects WHERE file = %s", (result.path,)
    )
    for line, reason, raw in rejects:
        assert reason in ROW_REASONS
        cover(line, 1 + raw.count("\n"), reason)
    uncovered = [n for n in range(2, len(lines) + 1) if n not in covered]
    assert all(not lines[n - 1].strip("\r") for n in uncovered), (result.path, uncovered)
    assert (result.rows, result.rejected_rows) == (len(loaded), len(rejects))
