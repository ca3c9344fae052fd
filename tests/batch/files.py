"""Input files built inside the tests: CSVs in other producers' forms, PDFs with one thing
changed, and a one-call ingest of a folder of them. Nothing large is committed."""

from __future__ import annotations

import csv
import dataclasses
import functools
import io
from decimal import Decimal
from pathlib import Path

from stack.batch import monthly, pdf_render
from stack.batch.formats import CSV_COLUMNS
from stack.batch.ingest import IngestSummary, ingest
from stack.batch.pools import Pools, build_pools
from stack.settings import Settings
from tests.batch.helpers import batch_settings

MONTH = "2025-05"


@functools.cache
def pools() -> Pools:
    return build_pools(3)


def rows(count: int, *, month: str = MONTH, seed: int = 3) -> list[list[str]]:
    """`count` valid transaction rows (lists, so a test can change a field)."""
    return [list(row) for row in monthly.transactions(pools(), seed, month, count)]


def csv_text(
    data_rows: list[list[str]],
    *,
    header: list[str] | tuple[str, ...] = CSV_COLUMNS,
    delimiter: str = ",",
    newline: str = "\n",
) -> str:
    """A CSV as Python's csv module writes it (quoting only where needed)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=newline)
    writer.writerow(header)
    writer.writerows(data_rows)
    return buffer.getvalue()


def statement(**changes: object) -> monthly.Statement:
    rng = monthly.month_rng(5, MONTH, "test-statement")
    made = monthly.statement(pools(), rng, MONTH, pools().accounts[0], 1)
    return dataclasses.replace(made, **changes)


def invoice(**changes: object) -> monthly.Invoice:
    rng = monthly.month_rng(5, MONTH, "test-invoice")
    made = monthly.invoice(pools(), rng, MONTH, pools().vendors[0], 1)
    return dataclasses.replace(made, **changes)


def invoice_with_lines(lines: list[monthly.LineItem]) -> monthly.Invoice:
    """An invoice whose subtotal, tax and total follow from `lines` (so it adds up)."""
    subtotal = sum((line.amount for line in lines), Decimal("0.00"))
    base = invoice()
    tax = (subtotal * base.tax_rate).quantize(Decimal("0.01"))
    return dataclasses.replace(
        base, lines=tuple(lines), subtotal=subtotal, tax=tax, total=subtotal + tax
    )


def statement_pdf(**changes: object) -> bytes:
    return pdf_render.render_statement(statement(**changes))


def invoice_pdf(doc: monthly.Invoice | None = None) -> bytes:
    return pdf_render.render_invoice(doc or invoice())


def ingest_files(
    settings: Settings,
    root: Path,
    files: dict[str, bytes | str],
    *,
    update: dict[str, object] | None = None,
    **options: object,
) -> tuple[Settings, IngestSummary]:
    """Write `files` (name -> content) into a fresh incoming folder and ingest it, with the
    settings changed by `update`."""
    configured = batch_settings(settings, root).model_copy(update=update or {})
    for name, content in files.items():
        path = configured.batch_incoming_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    configured.batch_incoming_dir.mkdir(parents=True, exist_ok=True)
    return configured, ingest(configured, **options)


def result_of(summary: IngestSummary, name: str):
    (found,) = [f for f in summary.files if f.path == name]
    return found
