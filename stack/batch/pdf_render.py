"""Statements and invoices as small PDFs (reportlab), byte-for-byte reproducible.

`invariant=1` makes reportlab write a fixed creation date and document ID, so the same
document renders to the same bytes on every run. The standard Helvetica font is not
embedded: files stay a few kilobytes.
"""

from __future__ import annotations

import io
from decimal import Decimal
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.pdfencrypt import StandardEncryption
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from stack.batch.formats import (
    INVOICE_FIELDS,
    INVOICE_TABLE_HEADER,
    INVOICE_TITLE,
    STATEMENT_FIELDS,
    STATEMENT_TABLE_HEADER,
    STATEMENT_TITLE,
    format_money,
)
from stack.batch.monthly import Invoice, Statement

_STYLES = getSampleStyleSheet()
_BODY = ParagraphStyle("body", parent=_STYLES["Normal"], fontSize=9.5, leading=13, spaceAfter=5)
_CELL = ParagraphStyle("cell", parent=_STYLES["Normal"], fontSize=8, leading=10)
_TABLE_STYLE = TableStyle(
    [
        ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8edf3")),
        ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
        ("FONTSIZE", (0, 0), (-1, -1), 8),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
)


def _fields(pairs: list[tuple[str, str]]) -> Paragraph:
    # One "Label: value" per line: what the ingest reads back.
    return Paragraph(
        "<br/>".join(f"{escape(label)}: {escape(value)}" for label, value in pairs), _BODY
    )


def _build(
    story: list[Flowable],
    *,
    title: str,
    author: str,
    subject: str,
    encrypt: StandardEncryption | None = None,
) -> bytes:
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        invariant=1,
        title=title,
        author=author,
        subject=subject,
        creator="stack batch generate",
        producer="stack",
        encrypt=encrypt,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
    )
    doc.build(story)
    return buffer.getvalue()


def _right_aligned(table: Table, first_column: int) -> Table:
    table.setStyle(_TABLE_STYLE)
    table.setStyle(TableStyle([("ALIGN", (first_column, 0), (-1, -1), "RIGHT")]))
    return table


def render_statement(doc: Statement, *, encrypt: StandardEncryption | None = None) -> bytes:
    labels = STATEMENT_FIELDS
    rows: list[list[object]] = [list(STATEMENT_TABLE_HEADER)]
    for line in doc.lines:
        rows.append(
            [
                line.item_date.isoformat() if line.item_date else "",
                Paragraph(escape(line.description), _CELL),
                format_money(line.amount),
            ]
        )
    table = _right_aligned(Table(rows, colWidths=[24 * mm, 120 * mm, 30 * mm], repeatRows=1), 2)
    account = doc.account
    story: list[Flowable] = [
        Paragraph(STATEMENT_TITLE, _STYLES["Title"]),
        _fields(
            [
                (labels["reference"], doc.reference),
                (labels["account_id"], account.account_id),
                (labels["holder"], account.holder),
                ("IBAN", account.iban),
                (
                    labels["period"],
                    f"{doc.period_start.isoformat()} to {doc.period_end.isoformat()}",
                ),
                (labels["currency"], account.currency),
                (labels["opening_balance"], format_money(doc.opening_balance)),
            ]
        ),
        Spacer(1, 5 * mm),
        table,
        Spacer(1, 4 * mm),
        _fields(
            [
                (labels["total_credits"], format_money(doc.total_credits)),
                (labels["total_debits"], format_money(doc.total_debits)),
                (labels["closing_balance"], format_money(doc.closing_balance)),
            ]
        ),
        Spacer(1, 5 * mm),
        *[Paragraph(escape(text), _BODY) for text in doc.paragraphs],
    ]
    return _build(
        story,
        title=f"Account statement {doc.reference}",
        author="stack demo bank",
        subject=f"{account.account_id} {doc.period_start:%Y-%m}",
        encrypt=encrypt,
    )


def render_invoice(doc: Invoice, *, stated_total: Decimal | None = None) -> bytes:
    """`stated_total` overrides the printed total (the known-bad 'does not add up' file)."""
    labels = INVOICE_FIELDS
    rows: list[list[object]] = [list(INVOICE_TABLE_HEADER)]
    for number, line in enumerate(doc.lines, 1):
        rows.append(
            [
                str(number),
                Paragraph(escape(line.description), _CELL),
                f"{line.quantity:g}" if line.quantity is not None else "",
                format_money(line.unit_price) if line.unit_price is not None else "",
                format_money(line.amount),
            ]
        )
    table = _right_aligned(
        Table(rows, colWidths=[9 * mm, 95 * mm, 20 * mm, 25 * mm, 25 * mm], repeatRows=1), 2
    )
    vendor = doc.vendor
    rate = f"{(doc.tax_rate * 100).normalize():f}%"
    story: list[Flowable] = [
        Paragraph(INVOICE_TITLE, _STYLES["Title"]),
        _fields(
            [
                (labels["vendor"], vendor.name),
                ("Address", vendor.address),
                (labels["reference"], doc.reference),
                (labels["issued_on"], doc.issued_on.isoformat()),
                (labels["due_on"], doc.due_on.isoformat()),
                (labels["currency"], doc.currency),
                (labels["bill_to"], doc.bill_to),
            ]
        ),
        Spacer(1, 5 * mm),
        table,
        Spacer(1, 4 * mm),
        _fields(
            [
                (labels["subtotal"], format_money(doc.subtotal)),
                (f"{labels['tax']} ({rate})", format_money(doc.tax)),
                (
                    labels["total"],
                    format_money(doc.total if stated_total is None else stated_total),
                ),
            ]
        ),
        Spacer(1, 5 * mm),
        *[Paragraph(escape(text), _BODY) for text in doc.paragraphs],
    ]
    return _build(
        story,
        title=f"Invoice {doc.reference}",
        author=vendor.name,
        subject=f"Invoice to {doc.bill_to.split(',')[0]}",
    )


def render_letter(title: str, paragraphs: list[str]) -> bytes:
    """A valid PDF that is neither a statement nor an invoice."""
    story: list[Flowable] = [Paragraph(escape(title), _STYLES["Title"])]
    story += [Paragraph(escape(text), _BODY) for text in paragraphs]
    return _build(story, title=title, author="stack", subject="letter")


def render_scan(pixels: bytes, width: int = 120, height: int = 170) -> bytes:
    """A page that is only an image, as a scanner writes it: no text layer at all.
    `pixels`: width x height grey levels."""
    from PIL import Image  # Pillow comes with pdfplumber; only this known-bad file needs it
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen.canvas import Canvas

    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=1)
    image = ImageReader(Image.frombytes("L", (width, height), pixels))
    canvas.drawImage(image, 0, 0, width=A4[0], height=A4[1])
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def encryption(user_password: str) -> StandardEncryption:
    return StandardEncryption(user_password, ownerPassword=user_password + "-owner", strength=128)
