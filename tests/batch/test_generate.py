"""`stack batch generate`: reproducible files whose numbers add up."""

from __future__ import annotations

import csv
import json
import re
from decimal import Decimal
from pathlib import Path

import pytest

from stack.batch.bad_files import BAD_FILES
from stack.batch.generate import generate
from stack.batch.monthly import parse_months
from stack.batch.pdf_parse import ParsedPdf, read_pdf
from stack.errors import StackError


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_seed_gives_identical_files_and_another_seed_does_not(tmp_path):
    args = {
        "months": "2025-01:2025-02",
        "rows_per_month": 200,
        "pdfs_per_month": 4,
        "with_bad": True,
    }
    generate(out_dir=tmp_path / "a", seed=11, **args)
    generate(out_dir=tmp_path / "b", seed=11, **args)
    generate(out_dir=tmp_path / "c", seed=12, **args)
    first, second, other = (_tree(tmp_path / name) for name in "abc")
    assert len(first) == 2 * (1 + 4) + len(BAD_FILES) + 1  # + the CSV with bad rows
    assert first == second
    assert first.keys() == other.keys()
    changed = [name for name in first if first[name] != other[name]]
    assert "2025-01/transactions_2025-01.csv" in changed
    assert "2025-02/statement_2025-02_001.pdf" in changed
    assert "2025-02/invoice_2025-02_002.pdf" in changed


def test_a_month_is_the_same_whatever_months_come_with_it(tmp_path):
    generate(
        out_dir=tmp_path / "range",
        months="2025-01:2025-03",
        rows_per_month=50,
        pdfs_per_month=2,
        seed=3,
    )
    generate(
        out_dir=tmp_path / "alone",
        months="2025-02",
        rows_per_month=50,
        pdfs_per_month=2,
        seed=3,
    )
    alone = _tree(tmp_path / "alone")
    assert alone == {k: v for k, v in _tree(tmp_path / "range").items() if k.startswith("2025-02")}


def test_transaction_ids_are_unique_across_months_and_rows_are_well_formed(tmp_path):
    summary = generate(
        out_dir=tmp_path,
        months="2024-11:2025-02",
        rows_per_month=400,
        pdfs_per_month=0,
        seed=5,
    )
    ids = []
    for path in sorted(tmp_path.rglob("*.csv")):
        month = path.parent.name
        with path.open(newline="") as handle:
            for row in csv.DictReader(handle):
                ids.append(row["transaction_id"])
                assert row["posted_date"].startswith(month)
                assert Decimal(row["amount"]).as_tuple().exponent == -2
                assert row["currency"] in {"EUR", "USD", "GBP", "CHF"}
    assert len(ids) == summary.transactions == 4 * 400
    assert len(set(ids)) == len(ids)


def test_generated_pdfs_are_readable_and_their_line_items_add_up(tmp_path):
    summary = generate(
        out_dir=tmp_path,
        months="2025-03",
        rows_per_month=10,
        pdfs_per_month=16,
        seed=9,
    )
    parsed = [read_pdf(p, p.name) for p in sorted(tmp_path.rglob("*.pdf"))]
    assert all(isinstance(doc, ParsedPdf) for doc in parsed), parsed
    assert sum(doc.kind == "statement" for doc in parsed) == summary.statements == 8
    assert sum(doc.kind == "invoice" for doc in parsed) == summary.invoices == 8
    assert sum(len(doc.lines) for doc in parsed) == summary.line_items
    # small files, and a statement table that continues on page 2 reads back whole
    assert {doc.page_count for doc in parsed} == {1, 2}
    for doc in parsed:
        items = sum(line[5] for line in doc.lines)
        if doc.kind == "invoice":
            assert items == doc.fields["subtotal"]
            assert doc.fields["subtotal"] + doc.fields["tax"] == doc.fields["total"]
        else:
            assert doc.fields["opening_balance"] + items == doc.fields["closing_balance"]
        # free text for the document corpus: full sentences, not only the table
        assert len(doc.text) > 600 and len(re.findall(r"[\w)]\.\s", doc.text + "\n")) >= 2


def test_pdf_texts_vary_between_documents(tmp_path):
    generate(
        out_dir=tmp_path,
        months="2025-04",
        rows_per_month=10,
        pdfs_per_month=8,
        seed=1,
    )
    texts = [read_pdf(p, p.name).text for p in sorted(tmp_path.rglob("invoice_*.pdf"))]
    # the prose after the totals, numbers masked: the wording itself differs
    prose = {re.sub(r"\d", "#", text.split("Total due:", 1)[1].split("\n", 1)[1]) for text in texts}
    assert len(texts) == 4
    assert len(prose) >= 3


@pytest.mark.parametrize(
    ("spec", "months"),
    [
        ("2025-01:2025-03", ["2025-01", "2025-02", "2025-03"]),
        ("2024-12:2025-01", ["2024-12", "2025-01"]),
        ("2025-05", ["2025-05"]),
        ("2025-03,2025-01", ["2025-01", "2025-03"]),
    ],
)
def test_parse_months(spec, months):
    assert parse_months(spec) == months


@pytest.mark.parametrize("spec", ["2025-13", "2025-03:2025-01", "march", "2025-1", ""])
def test_bad_months_are_usage_errors(spec):
    with pytest.raises(StackError) as raised:
        parse_months(spec)
    assert raised.value.exit_code == 2
    assert "--months" in str(raised.value)


def test_cli_generate_json_summary_matches_the_files(stack_cli, tmp_path):
    result = stack_cli(
        "batch",
        "generate",
        "--months",
        "2025-01",
        "--rows-per-month",
        "25",
        "--pdfs-per-month",
        "2",
        "--seed",
        "4",
        "--out",
        str(tmp_path),
        "--json",
        check=True,
    )
    summary = json.loads(result.stdout)
    assert summary["files"] == len(list(tmp_path.rglob("*.*"))) == 3
    assert summary["transactions"] == 25
    assert summary["statements"] == summary["invoices"] == 1


def test_cli_generate_bad_months_is_one_line_exit_2(stack_cli, tmp_path):
    result = stack_cli("batch", "generate", "--months", "2025-13", "--out", str(tmp_path))
    assert result.returncode == 2
    assert "--months" in result.stderr and "Traceback" not in result.stderr
    assert not any(tmp_path.iterdir())
