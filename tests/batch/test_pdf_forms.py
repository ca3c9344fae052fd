"""PDFs as readers accept them (bytes before %PDF-, padding after %%EOF), refused when their
numbers cannot be stored as they are, and bounded work per file: recognised from page 1,
a page limit and a time limit (settings)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pdfplumber.page
import pytest

from stack.batch import pdf_render
from stack.batch.monthly import LineItem
from tests.batch.files import (
    ingest_files,
    invoice,
    invoice_pdf,
    invoice_with_lines,
    result_of,
    statement,
    statement_pdf,
)
from tests.helpers import query


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (b"\xef\xbb\xbf", b""),
        (b"\r\n", b""),
        (b"Content-Type: application/pdf\r\n\r\n", b""),
        (b"", b"\x00" * 4096),
    ],
    ids=["bom", "crlf", "banner", "nul-padding"],
)
def test_stray_bytes_around_a_pdf_are_accepted(settings, tmp_path, before, after):
    configured, summary = ingest_files(
        settings, tmp_path, {"statement.pdf": before + statement_pdf() + after}, workers=1
    )
    assert summary.exit_code == 0, summary.to_dict()
    assert query(configured, "SELECT kind, page_count FROM documents") == [("statement", 1)]


def _overflowing_statement() -> bytes:
    made = statement()
    opening = Decimal("12345678901.00")  # a yen account
    return pdf_render.render_statement(
        dataclasses.replace(
            made,
            opening_balance=opening,
            closing_balance=opening + made.closing_balance - made.opening_balance,
        )
    )


def _overflowing_invoice() -> bytes:
    big = Decimal("20000000000.00")
    return invoice_pdf(
        invoice_with_lines([LineItem("Plant", big, quantity=Decimal(1), unit_price=big)])
    )


@pytest.mark.parametrize("workers", [2, 1], ids=["worker-processes", "in-process"])
def test_amounts_too_large_for_their_columns_are_refused_and_the_rest_loads(
    settings, tmp_path, workers
):
    configured, summary = ingest_files(
        settings,
        tmp_path,
        {
            "a_statement_jpy.pdf": _overflowing_statement(),
            "b_invoice_big.pdf": _overflowing_invoice(),
            "c_statement.pdf": statement_pdf(),
            "d_invoice.pdf": invoice_pdf(),
        },
        workers=workers,
    )
    assert summary.exit_code == 1
    for name, amount in [
        ("a_statement_jpy.pdf", "12,345,678,901.00"),
        ("b_invoice_big.pdf", "20,000,000,000.00"),
    ]:
        result = result_of(summary, name)
        assert (result.outcome, result.reason) == ("failed", "amount_out_of_range")
        assert amount in result.detail and "numeric(12,2)" in result.detail
    assert query(configured, "SELECT path FROM documents ORDER BY 1") == [
        ("c_statement.pdf",),
        ("d_invoice.pdf",),
    ]


def test_a_quantity_that_would_be_rounded_is_refused(settings, tmp_path):
    line = LineItem(
        "Consulting", Decimal("12.35"), quantity=Decimal("1.2345"), unit_price=Decimal("10.00")
    )
    doc = invoice_with_lines([line, *invoice().lines[1:]])
    _, summary = ingest_files(settings, tmp_path, {"invoice.pdf": invoice_pdf(doc)}, workers=1)
    result = result_of(summary, "invoice.pdf")
    assert (result.reason, summary.documents) == ("bad_line_item", 0)
    assert "1.2345" in result.detail and "3 decimals" in result.detail


@pytest.mark.parametrize("which", ["statement", "invoice"])
def test_impossible_dates_are_refused(settings, tmp_path, which):
    if which == "statement":
        made = statement()
        pdf = pdf_render.render_statement(
            dataclasses.replace(made, period_start=made.period_end, period_end=made.period_start)
        )
    else:
        made = invoice()
        pdf = invoice_pdf(
            dataclasses.replace(
                made, due_on=made.issued_on.replace(day=1) - (made.due_on - made.issued_on)
            )
        )
    _, summary = ingest_files(settings, tmp_path, {"doc.pdf": pdf}, workers=1)
    assert result_of(summary, "doc.pdf").reason == "impossible_dates"


@pytest.fixture
def pages_read(monkeypatch) -> list[int]:
    """The page numbers whose text the parser extracted (in this process)."""
    seen: list[int] = []
    extract = pdfplumber.page.Page.extract_text

    def counting(self, *args, **kwargs):
        seen.append(self.page_number)
        return extract(self, *args, **kwargs)

    monkeypatch.setattr(pdfplumber.page.Page, "extract_text", counting)
    return seen


def _long_letter(pages: int) -> bytes:
    paragraph = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod. " * 30
    return pdf_render.render_letter("Annual report", [paragraph] * (pages * 4))


def test_a_long_document_that_is_no_statement_is_refused_after_page_one(
    settings, tmp_path, pages_read
):
    letter = _long_letter(240)
    _, summary = ingest_files(
        settings,
        tmp_path,
        {"report.pdf": letter},
        update={"batch_pdf_max_pages": 10_000, "batch_pdf_timeout_seconds": 3600},
        workers=1,
    )
    assert pages_read == [1]
    result = result_of(summary, "report.pdf")
    assert result.reason == "unrecognised_document"
    assert "page 1 starts with 'Annual report'" in result.detail


def _long_statement(lines: int) -> bytes:
    made = statement()
    extra = [dataclasses.replace(made.lines[0], description=f"Line {n}") for n in range(lines)]
    everything = (*made.lines, *extra)
    return pdf_render.render_statement(
        dataclasses.replace(
            made,
            lines=everything,
            closing_balance=made.opening_balance + sum(line.amount for line in everything),
        )
    )


def test_more_pages_than_the_limit_is_refused_before_any_page_is_read(
    settings, tmp_path, pages_read
):
    _, summary = ingest_files(
        settings,
        tmp_path,
        {"long.pdf": _long_statement(150)},
        update={"batch_pdf_max_pages": 2},
        workers=1,
    )
    result = result_of(summary, "long.pdf")
    assert result.reason == "too_many_pages"
    assert "BATCH_PDF_MAX_PAGES (2)" in result.detail
    assert pages_read == []


@pytest.mark.parametrize("workers", [2, 1], ids=["worker-processes", "in-process"])
def test_a_parse_longer_than_the_time_limit_is_refused(settings, tmp_path, workers):
    slow = _long_statement(600)  # a dozen pages: seconds of parsing
    _, summary = ingest_files(
        settings,
        tmp_path,
        {"slow.pdf": slow, "quick.pdf": invoice_pdf()},
        update={"batch_pdf_timeout_seconds": 0.3},
        workers=workers,
    )
    result = result_of(summary, "slow.pdf")
    assert (result.outcome, result.reason) == ("failed", "time_limit"), result
    assert "BATCH_PDF_TIMEOUT_SECONDS (0.3 s)" in result.detail
    assert result_of(summary, "quick.pdf").outcome == "loaded"
