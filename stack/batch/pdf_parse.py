"""Read a statement or invoice PDF back (pdfplumber): its fields, line items and text.

Runs in worker processes, so it takes a path and returns plain picklable data: a
ParsedPdf, or a FailedPdf with the reason. It checks that the line items add up to the
totals the document states, that every amount fits its column and that the dates make
sense: a document whose numbers disagree is refused, not loaded.

The work per file is bounded: the page count is checked against a limit before any page is
read, page 1 alone says whether the document is a statement or an invoice (a long report is
refused after one page, not after all of them), and the whole parse runs under a time limit
(PdfLimits, from the settings).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import logging
import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pdfminer.settings
import pdfplumber
from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
from pdfminer.pdftypes import PDFStream, resolve1
from pdfminer.psparser import PSException
from pdfplumber.utils.exceptions import PdfminerException

from stack.batch.formats import (
    INVOICE_FIELDS,
    INVOICE_TABLE_HEADER,
    INVOICE_TITLE,
    MAX_AMOUNT,
    MAX_QUANTITY,
    QUANTITY_DECIMALS,
    STATEMENT_FIELDS,
    STATEMENT_TABLE_HEADER,
    STATEMENT_TITLE,
    format_money,
    parse_money,
)
from stack.batch.reasons import BadFile
from stack.batch.sniff import describe_not_pdf, pdf_header_at
from stack.batch.time_limit import Deadline, TimeUp, time_limit

CENT = Decimal("0.01")
_QUANTITY = re.compile(r"^[+-]?\d{1,3}(,\d{3})*(\.\d+)?$|^[+-]?\d+(\.\d+)?$")
# Bytes a writer or a transfer may leave after %%EOF: NUL padding, blank lines.
_PADDING = b"\x00\t\n\r\x0c "

# pdfminer reports recoverable damage as warnings: they would reach the terminal through
# Python's last-resort handler. The damage that matters becomes the file's reason instead.
logging.getLogger("pdfminer").addHandler(logging.NullHandler())


@dataclass(frozen=True)
class PdfLimits:
    """The bounds on one PDF's work: the ingest passes BATCH_PDF_MAX_PAGES and
    BATCH_PDF_TIMEOUT_SECONDS."""

    max_pages: int
    timeout_seconds: float


UNBOUNDED = PdfLimits(max_pages=10**9, timeout_seconds=10.0**9)


@dataclass
class ParsedPdf:
    path: str  # relative to the incoming directory
    sha256: str
    size_bytes: int
    kind: str  # statement | invoice
    page_count: int
    text: str  # every page's text, pages separated by form feeds
    fields: dict[str, object]  # the `documents` columns read from the header and totals
    lines: list[tuple[int, dt.date | None, str, Decimal | None, Decimal | None, Decimal]] = field(
        default_factory=list
    )  # line_no, item_date, description, quantity, unit_price, amount


@dataclass
class FailedPdf:
    path: str
    sha256: str
    size_bytes: int
    reason: str
    detail: str


def _value(text: str, label: str, what: str) -> str:
    # "Label: value" or "Label (note): value" at the start of a line.
    match = re.search(rf"^{re.escape(label)}(?: \([^)]*\))?: *(.+?) *$", text, re.MULTILINE)
    if not match:
        raise BadFile("incomplete_document", f"{what}: no '{label}:' line")
    return match[1]


def _fits(amount: Decimal, where: str) -> Decimal:
    if abs(amount) > MAX_AMOUNT:
        raise BadFile(
            "amount_out_of_range",
            f"{where}: {format_money(amount)} does not fit numeric(12,2) "
            f"(at most {format_money(MAX_AMOUNT)})",
        )
    return amount


def _money(text: str, label: str, what: str) -> Decimal:
    value = _value(text, label, what)
    amount = parse_money(value)
    if amount is None:
        raise BadFile("incomplete_document", f"{what}: '{label}: {value}' is not an amount")
    return _fits(amount, f"{what}: {label.lower()}")


def _date(value: str, where: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise BadFile("bad_line_item", f"{where}: {value!r} is not a date (YYYY-MM-DD)") from None


def _table_rows(tables: list[list[list[str | None]]], header: tuple[str, ...]) -> list[list[str]]:
    """The rows of every table (on every page) whose first row is `header`, minus that row."""
    rows = []
    for table in tables:
        cells = [[" ".join((cell or "").split()) for cell in row] for row in table]
        if cells and tuple(cells[0]) == header:
            rows += [row for row in cells[1:] if tuple(row) != header and any(row)]
    return rows


def _statement(text: str, tables: list, what: str) -> tuple[dict, list]:
    labels = STATEMENT_FIELDS
    period = _value(text, labels["period"], what)
    match = re.fullmatch(r"(\S+) to (\S+)", period)
    if not match:
        raise BadFile("incomplete_document", f"{what}: period {period!r} is not 'DATE to DATE'")
    opening = _money(text, labels["opening_balance"], what)
    closing = _money(text, labels["closing_balance"], what)
    credits = _money(text, labels["total_credits"], what)
    debits = _money(text, labels["total_debits"], what)
    lines = []
    for number, row in enumerate(_table_rows(tables, STATEMENT_TABLE_HEADER), 1):
        if len(row) != 3:
            raise BadFile("bad_line_item", f"{what}: line item {number} has {len(row)} cells")
        amount = parse_money(row[2])
        if amount is None:
            raise BadFile(
                "bad_line_item", f"{what}: line item {number}: amount {row[2]!r} is not an amount"
            )
        _fits(amount, f"{what}: line item {number}")
        lines.append(
            (number, _date(row[0], f"{what}: line item {number}"), row[1], None, None, amount)
        )
    if not lines:
        raise BadFile("incomplete_document", f"{what}: no line-item table")
    money_in = sum((line[5] for line in lines if line[5] > 0), Decimal("0.00"))
    money_out = sum((line[5] for line in lines if line[5] < 0), Decimal("0.00"))
    if money_in != credits or money_out != debits:
        raise BadFile(
            "totals_mismatch",
            f"{what}: the line items give credits {money_in} and "
            f"debits {money_out}, the statement says {credits} and {debits}",
        )
    if opening + money_in + money_out != closing:
        raise BadFile(
            "totals_mismatch",
            f"{what}: opening balance {opening} plus the line items "
            f"({money_in + money_out}) is {opening + money_in + money_out}, "
            f"the statement says closing balance {closing}",
        )
    start, end = _date(match[1], f"{what}: period"), _date(match[2], f"{what}: period")
    if end < start:
        raise BadFile("impossible_dates", f"{what}: the period {period} ends before it starts")
    fields = {
        "reference": _value(text, labels["reference"], what),
        "account_id": _value(text, labels["account_id"], what),
        "period_start": start,
        "period_end": end,
        "currency": _value(text, labels["currency"], what),
        "opening_balance": opening,
        "closing_balance": closing,
        "total": money_in + money_out,  # the net movement the line items add up to
    }
    return fields, lines


def _quantity(value: str, where: str) -> Decimal:
    """A quantity document_line_items.quantity (numeric(12,3)) holds exactly, or a BadFile:
    the stack never rounds a quantity into a different number."""
    if not _QUANTITY.match(value.strip()):
        raise BadFile("bad_line_item", f"{where}: quantity {value!r} is not a number")
    quantity = Decimal(value.strip().replace(",", ""))
    if -quantity.as_tuple().exponent > QUANTITY_DECIMALS:  # type: ignore[operator]
        raise BadFile(
            "bad_line_item",
            f"{where}: quantity {value} has more than {QUANTITY_DECIMALS} decimals "
            f"(stored as numeric(12,{QUANTITY_DECIMALS}), it would be rounded): "
            "ask for the invoice with the quantity as billed",
        )
    if abs(quantity) > MAX_QUANTITY:
        raise BadFile("bad_line_item", f"{where}: quantity {value} does not fit numeric(12,3)")
    return quantity


def _invoice(text: str, tables: list, what: str) -> tuple[dict, list]:
    labels = INVOICE_FIELDS
    subtotal = _money(text, labels["subtotal"], what)
    tax = _money(text, labels["tax"], what)
    total = _money(text, labels["total"], what)
    lines = []
    for number, row in enumerate(_table_rows(tables, INVOICE_TABLE_HEADER), 1):
        where = f"{what}: line item {number}"
        if len(row) != 5:
            raise BadFile("bad_line_item", f"{where} has {len(row)} cells")
        quantity = _quantity(row[2], where)
        unit_price = parse_money(row[3])
        amount = parse_money(row[4])
        if unit_price is None or amount is None:
            raise BadFile("bad_line_item", f"{where}: {row[3]!r} or {row[4]!r} is not an amount")
        _fits(unit_price, f"{where}: unit price")
        _fits(amount, where)
        if (quantity * unit_price).quantize(CENT, ROUND_HALF_UP) != amount:
            raise BadFile(
                "totals_mismatch", f"{where}: {quantity} x {unit_price} is not the amount {amount}"
            )
        lines.append((number, None, row[1], quantity, unit_price, amount))
    if not lines:
        raise BadFile("incomplete_document", f"{what}: no line-item table")
    items = sum((line[5] for line in lines), Decimal("0.00"))
    if items != subtotal:
        raise BadFile(
            "totals_mismatch",
            f"{what}: the line items add up to {items}, the invoice says subtotal {subtotal}",
        )
    if subtotal + tax != total:
        raise BadFile(
            "totals_mismatch",
            f"{what}: subtotal {subtotal} plus tax {tax} is "
            f"{subtotal + tax}, the invoice says total due {total}",
        )
    issued = _date(_value(text, labels["issued_on"], what), f"{what}: issue date")
    due = _date(_value(text, labels["due_on"], what), f"{what}: due date")
    if due < issued:
        raise BadFile("impossible_dates", f"{what}: due {due} is before the issue date {issued}")
    fields = {
        "reference": _value(text, labels["reference"], what),
        "vendor": _value(text, labels["vendor"], what),
        "issued_on": issued,
        "due_on": due,
        "currency": _value(text, labels["currency"], what),
        "subtotal": subtotal,
        "tax": tax,
        "total": total,
    }
    return fields, lines


def _trimmed(data: bytes) -> bytes:
    """The PDF itself: from `%PDF-` (after any stray bytes before it) to `%%EOF` (before any
    padding after it), or a BadFile saying why there is none."""
    start = pdf_header_at(data)
    if start < 0:
        raise BadFile("not_a_pdf", describe_not_pdf(data))
    data = data[start:].rstrip(_PADDING)
    if not data.endswith(b"%%EOF") and b"%%EOF" not in data[-1024:]:
        raise BadFile(
            "corrupt_pdf",
            f"truncated: it ends after {len(data):,} bytes without the %%EOF marker "
            "(an interrupted download or copy?): ask for the file again",
        )
    return data


def _open(data: bytes) -> pdfplumber.PDF:
    try:
        return pdfplumber.open(io.BytesIO(data))
    except PdfminerException as error:
        cause = error.args[0] if error.args else error
        if isinstance(cause, PDFPasswordIncorrect | PDFEncryptionError):
            raise BadFile("encrypted_pdf", "needs a password to open") from None
        raise BadFile("corrupt_pdf", f"cannot be parsed ({type(cause).__name__})") from None


def _page_count(pdf: pdfplumber.PDF) -> int | None:
    """The count the page tree states, read without building the pages (None: unreadable)."""
    try:
        count = resolve1(resolve1(pdf.doc.catalog.get("Pages")).get("Count"))
    except Exception:  # a damaged page tree: building the pages will say what is wrong
        return None
    return count if isinstance(count, int) else None


def _check_streams(page: pdfplumber.page.Page) -> None:
    """Decode the page's content streams strictly first: a damaged one (bytes changed after
    the PDF was written) is a corrupt file, not a page without text. pdfminer would decode
    it leniently to nothing, or to garbage."""
    pdfminer.settings.STRICT = True
    try:
        for content in page.page_obj.contents:
            stream = resolve1(content)
            if isinstance(stream, PDFStream):
                try:
                    stream.get_data()
                except (PSException, ValueError) as error:
                    cause = str(error).split(",")[0].split(":")[0][:60]
                    raise BadFile(
                        "corrupt_pdf",
                        f"page {page.page_number}: a content stream (object {stream.objid}) "
                        f"is damaged ({cause}): the bytes changed after the PDF was written "
                        "(a bad copy?): ask for the file again",
                    ) from None
    finally:
        pdfminer.settings.STRICT = False


def _read_page(page: pdfplumber.page.Page) -> tuple[str, list]:
    """The page's text and tables, without NUL characters (a damaged font map yields them;
    PostgreSQL text cannot hold them)."""
    try:
        _check_streams(page)
        text = (page.extract_text() or "").replace("\x00", "")
        tables = [
            [[cell.replace("\x00", "") if cell else cell for cell in row] for row in table]
            for table in page.extract_tables()
        ]
        return text, tables
    except (BadFile, TimeUp):
        raise
    except Exception as error:  # pdfminer raises many kinds on damaged content
        raise BadFile(
            "corrupt_pdf",
            f"page {page.page_number} cannot be read ({type(error).__name__}: {error})",
        ) from None


def _kind(text: str, page: pdfplumber.page.Page) -> str:
    """statement | invoice, from page 1's first line."""
    first_line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if first_line == STATEMENT_TITLE:
        return "statement"
    if first_line == INVOICE_TITLE:
        return "invoice"
    if not first_line:
        images = "an image (a scan?)" if page.images else "nothing but drawings"
        raise BadFile(
            "no_text_layer",
            f"page 1 holds no text, only {images}: the PDF has no text layer "
            "(run OCR on it, or ask for the PDF the accounting system exports)",
        )
    raise BadFile(
        "unrecognised_document",
        f"page 1 starts with {first_line[:60]!r}, not {STATEMENT_TITLE!r} or {INVOICE_TITLE!r}",
    )


@dataclass
class _Read:
    kind: str
    page_count: int
    texts: list[str]
    tables: list
    title: object


def _read(data: bytes, limits: PdfLimits, deadline: Deadline) -> _Read:
    pdf = _open(_trimmed(data))
    try:
        stated = _page_count(pdf)
        if stated is not None and stated > limits.max_pages:
            raise BadFile(
                "too_many_pages",
                f"{stated} pages, more than BATCH_PDF_MAX_PAGES ({limits.max_pages}): "
                "split it, or raise the limit",
            )
        try:
            pages = pdf.pages
        except Exception as error:  # a damaged page tree
            raise BadFile(
                "corrupt_pdf", f"its pages cannot be listed ({type(error).__name__})"
            ) from None
        if not pages:
            raise BadFile("corrupt_pdf", "has no pages")
        if len(pages) > limits.max_pages:
            raise BadFile(
                "too_many_pages",
                f"{len(pages)} pages, more than BATCH_PDF_MAX_PAGES ({limits.max_pages})",
            )
        text, tables = _read_page(pages[0])
        kind = _kind(text, pages[0])  # before the other pages are read
        texts = [text]
        for page in pages[1:]:
            deadline.check()
            text, more = _read_page(page)
            texts.append(text)
            tables += more
        return _Read(kind, len(pages), texts, tables, pdf.metadata.get("Title"))
    finally:
        _close(pdf)


def _close(pdf: pdfplumber.PDF) -> None:
    # Closing lists the pages again: a damaged page tree fails once more (nothing to free).
    with contextlib.suppress(Exception):
        pdf.close()


def read_pdf(path: Path, relative: str, limits: PdfLimits = UNBOUNDED) -> ParsedPdf | FailedPdf:
    """Parse one PDF; never raises for bad input (the reason comes back instead)."""
    data = path.read_bytes()
    sha256 = hashlib.sha256(data).hexdigest()
    try:
        try:
            with time_limit(limits.timeout_seconds) as deadline:
                read = _read(data, limits, deadline)
        except TimeUp:
            raise BadFile(
                "time_limit",
                f"parsing took longer than BATCH_PDF_TIMEOUT_SECONDS "
                f"({limits.timeout_seconds:g} s): a pathological or very large PDF; "
                "raise the limit to load it",
            ) from None
        text = "\f".join(read.texts)
        parse = _statement if read.kind == "statement" else _invoice
        fields, lines = parse(text, read.tables, read.kind)
    except BadFile as bad:
        return FailedPdf(relative, sha256, len(data), bad.reason, bad.detail)
    first_line = next(line.strip() for line in text.splitlines() if line.strip())
    fields["title"] = read.title if isinstance(read.title, str) else first_line.title()
    return ParsedPdf(relative, sha256, len(data), read.kind, read.page_count, text, fields, lines)
