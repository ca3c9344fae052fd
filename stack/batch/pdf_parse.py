"""Read a statement or invoice PDF back (pdfplumber): its fields, line items and text.

Runs in worker processes, so it takes a path and returns plain picklable data: a
ParsedPdf, or a FailedPdf with the reason. It checks that the line items add up to the
totals the document states: a document whose numbers disagree is refused, not loaded.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

import pdfplumber
from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
from pdfplumber.utils.exceptions import PdfminerException

from stack.batch.formats import (
    INVOICE_FIELDS,
    INVOICE_TABLE_HEADER,
    INVOICE_TITLE,
    STATEMENT_FIELDS,
    STATEMENT_TABLE_HEADER,
    STATEMENT_TITLE,
    parse_money,
)
from stack.batch.reasons import BadFile

CENT = Decimal("0.01")


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


def _money(text: str, label: str, what: str) -> Decimal:
    value = _value(text, label, what)
    amount = parse_money(value)
    if amount is None:
        raise BadFile("incomplete_document", f"{what}: '{label}: {value}' is not an amount")
    return amount


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
    fields = {
        "reference": _value(text, labels["reference"], what),
        "account_id": _value(text, labels["account_id"], what),
        "period_start": _date(match[1], f"{what}: period"),
        "period_end": _date(match[2], f"{what}: period"),
        "currency": _value(text, labels["currency"], what),
        "opening_balance": opening,
        "closing_balance": closing,
        "total": money_in + money_out,  # the net movement the line items add up to
    }
    return fields, lines


def _decimal(value: str, where: str, what: str) -> Decimal:
    try:
        return Decimal(value.replace(",", ""))
    except InvalidOperation:
        raise BadFile("bad_line_item", f"{where}: {what} {value!r} is not a number") from None


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
        quantity = _decimal(row[2], where, "quantity")
        unit_price = parse_money(row[3])
        amount = parse_money(row[4])
        if unit_price is None or amount is None:
            raise BadFile("bad_line_item", f"{where}: {row[3]!r} or {row[4]!r} is not an amount")
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
    fields = {
        "reference": _value(text, labels["reference"], what),
        "vendor": _value(text, labels["vendor"], what),
        "issued_on": _date(_value(text, labels["issued_on"], what), f"{what}: issue date"),
        "due_on": _date(_value(text, labels["due_on"], what), f"{what}: due date"),
        "currency": _value(text, labels["currency"], what),
        "subtotal": subtotal,
        "tax": tax,
        "total": total,
    }
    return fields, lines


def _open(data: bytes) -> pdfplumber.PDF:
    if not data.startswith(b"%PDF-"):
        raise BadFile("not_a_pdf", f"starts with {data[:8]!r}, not %PDF-")
    if b"%%EOF" not in data[-1024:]:
        raise BadFile("corrupt_pdf", "truncated: no %%EOF marker at the end")
    try:
        return pdfplumber.open(io.BytesIO(data))
    except PdfminerException as error:
        cause = error.args[0] if error.args else error
        if isinstance(cause, PDFPasswordIncorrect | PDFEncryptionError):
            raise BadFile("encrypted_pdf", "needs a password to open") from None
        raise BadFile("corrupt_pdf", f"cannot be parsed ({type(cause).__name__})") from None


def read_pdf(path: Path, relative: str) -> ParsedPdf | FailedPdf:
    """Parse one PDF; never raises for bad input (the reason comes back instead)."""
    data = path.read_bytes()
    sha256 = hashlib.sha256(data).hexdigest()
    try:
        pdf = _open(data)
        with pdf:
            try:
                pages = pdf.pages
                texts, tables = [], []
                for page in pages:
                    texts.append(page.extract_text() or "")
                    tables += page.extract_tables()
            except Exception as error:  # pdfminer raises many kinds on damaged content
                raise BadFile(
                    "corrupt_pdf", f"a page cannot be read ({type(error).__name__}: {error})"
                ) from None
            if not pages:
                raise BadFile("corrupt_pdf", "has no pages")
            title = pdf.metadata.get("Title")
        text = "\f".join(texts)
        first_line = next((line.strip() for line in text.splitlines() if line.strip()), "")
        if first_line == STATEMENT_TITLE:
            kind, (fields, lines) = "statement", _statement(text, tables, "statement")
        elif first_line == INVOICE_TITLE:
            kind, (fields, lines) = "invoice", _invoice(text, tables, "invoice")
        else:
            raise BadFile(
                "unrecognised_document",
                f"starts with {first_line[:60]!r}, not {STATEMENT_TITLE!r} or {INVOICE_TITLE!r}",
            )
    except BadFile as bad:
        return FailedPdf(relative, sha256, len(data), bad.reason, bad.detail)
    fields["title"] = title if isinstance(title, str) else first_line.title()
    return ParsedPdf(relative, sha256, len(data), kind, len(pages), text, fields, lines)
