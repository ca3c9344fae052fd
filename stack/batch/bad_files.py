"""Known-bad input (`stack batch generate --with-bad`): one file per way a delivery goes
wrong, and one CSV whose rows go wrong in every way a row can. The ingest must quarantine
each with its reason and still load everything else; the tests check exactly that.
"""

from __future__ import annotations

import dataclasses
import random
import re
from decimal import ROUND_HALF_UP, Decimal

from stack.batch import monthly, pdf_render
from stack.batch.formats import CSV_COLUMNS
from stack.batch.pools import Pools
from stack.batch.sniff import PDF_HEADER


def _damaged(pdf: bytes) -> bytes:
    """One byte changed in the middle of the page's content stream, as a bad copy does."""
    match = max(re.finditer(rb"stream\r?\n(.*?)endstream", pdf, re.DOTALL), key=lambda m: len(m[1]))
    middle = match.start(1) + len(match[1]) // 2
    flipped = b"!" if pdf[middle : middle + 1] != b"!" else b"#"
    return pdf[:middle] + flipped + pdf[middle + 1 :]


# file name (inside the first month's folder) -> the reason ingest gives. `{month}` is filled in.
BAD_FILES: dict[str, str] = {
    "not_a_pdf.pdf": "not_a_pdf",
    "invoice_truncated.pdf": "corrupt_pdf",
    "invoice_garbled.pdf": "corrupt_pdf",
    "statement_encrypted.pdf": "encrypted_pdf",
    "invoice_damaged_stream.pdf": "corrupt_pdf",
    "invoice_totals_mismatch.pdf": "totals_mismatch",
    "invoice_quantity_too_precise.pdf": "bad_line_item",
    "statement_jpy_overflow.pdf": "amount_out_of_range",
    "statement_period_reversed.pdf": "impossible_dates",
    "statement_scanned.pdf": "no_text_layer",
    "letter_office_move.pdf": "unrecognised_document",
    "transactions_{month}_saved_as_pdf.csv": "not_a_csv",
    "transactions_empty.csv": "empty_csv",
    "transactions_wrong_header.csv": "wrong_header",
    "transactions_latin1.csv": "not_utf8",
    "transactions_zero_bytes.csv": "empty_file",
    "ledger_export.xlsx": "unknown_file_type",
    "transactions_{month}_copy.csv": "duplicate_file",
}

# The CSV with bad rows: it loads (status loaded), its good rows land, each bad row becomes
# an `ingest_rejects` row. line number -> reason (None: the row loads).
BAD_ROWS_FILE = "transactions_{month}_adjustments.csv"
BAD_ROWS: dict[int, str | None] = {
    2: None,
    3: "wrong_column_count",
    4: "bad_date",
    5: "bad_amount",
    6: None,
    7: "unknown_currency",
    8: "duplicate_id",
    9: "duplicate_id_other_file",
    10: "missing_field",
    11: "amount_out_of_range",
    12: "wrong_column_count",
    # 13 is a blank line: skipped, neither loaded nor rejected
    14: "bad_date",
    15: "bad_amount",
    16: None,
    17: "unclosed_quote",  # the last line: a quote that never closes swallows only itself
}


def _csv_line(*fields: str) -> str:
    return ",".join(f'"{f}"' if "," in f else f for f in fields)


def _bad_rows(month: str, first_id: str) -> bytes:
    tag = month.replace("-", "")
    day = f"{month}-15"

    def row(
        seq: int,
        *,
        date: str = day,
        amount: str = "-42.50",
        currency: str = "EUR",
        account: str = "ACC-100001",
        tid: str | None = None,
    ) -> str:
        return _csv_line(
            tid or f"TX-{tag}-A{seq:06d}",
            account,
            date,
            f"CARD PAYMENT Adjustment {seq}",
            "Adjustment desk",
            "fees",
            amount,
            currency,
        )

    lines = [
        ",".join(CSV_COLUMNS),
        row(1),
        f"TX-{tag}-A000090,ACC-100001,{day},too few columns",
        row(3, date=f"{month[:4]}-02-30"),
        row(4, amount="twelve"),
        row(5),
        row(6, currency="XYZ"),
        row(7, tid=f"TX-{tag}-A000005"),
        row(8, tid=first_id),
        row(9, account=""),
        row(10, amount="123456789012.00"),
        row(11) + ",an extra column",
        "",
        row(12, date=f"31/{month[5:]}/{month[:4]}"),
        row(13, amount="1.234"),
        row(14, amount="1200.00"),
        row(15).replace("CARD PAYMENT", '"CARD PAYMENT', 1),
    ]
    return ("\n".join(lines) + "\n").encode()


def bad_files(
    pools: Pools, seed: int, month: str, good_csv: bytes, first_transaction_id: str
) -> dict[str, bytes]:
    """File name -> bytes for every known-bad file of `month` (plus the bad-rows CSV)."""
    rng = monthly.month_rng(seed, month, "bad")
    invoice = monthly.invoice(pools, rng, month, pools.vendors[0], 900)
    invoice_pdf = pdf_render.render_invoice(invoice)
    statement = monthly.statement(pools, rng, month, pools.accounts[0], 900)
    jpy = dataclasses.replace(  # a yen account: twelve figures do not fit numeric(12,2)
        statement,
        reference=statement.reference[:-3] + "902",
        opening_balance=Decimal("12345678901.00"),
        closing_balance=Decimal("12345678901.00")
        + statement.closing_balance
        - statement.opening_balance,
    )
    reversed_period = dataclasses.replace(
        statement,
        reference=statement.reference[:-3] + "903",
        period_start=statement.period_end,
        period_end=statement.period_start,
    )
    first = invoice.lines[0]  # its quantity 1.2345 would be stored as 1.235: refused, not rounded
    amount = (Decimal("1.2345") * first.unit_price).quantize(Decimal("0.01"), ROUND_HALF_UP)
    subtotal = invoice.subtotal - first.amount + amount
    precise = dataclasses.replace(
        invoice,
        reference=invoice.reference[:-3] + "904",
        lines=(
            dataclasses.replace(first, quantity=Decimal("1.2345"), amount=amount),
            *invoice.lines[1:],
        ),
        subtotal=subtotal,
        tax=Decimal("0.00"),
        total=subtotal,
    )
    header = ",".join(CSV_COLUMNS) + "\n"
    latin1_row = _csv_line(
        f"TX-{month.replace('-', '')}-L000001",
        "ACC-100001",
        f"{month}-03",
        "CARD PAYMENT Café Müller",
        "Café Müller",
        "restaurants",
        "-8.90",
        "EUR",
    )
    files = {
        "not_a_pdf.pdf": b"Meeting notes, saved with the wrong extension.\nAgenda: budget.\n",
        "invoice_truncated.pdf": invoice_pdf[: len(invoice_pdf) * 3 // 5],
        "invoice_garbled.pdf": PDF_HEADER
        + b"1.4\n"
        + random.Random(seed).randbytes(3000)
        + b"\n%%EOF\n",
        "invoice_damaged_stream.pdf": _damaged(invoice_pdf),
        "statement_encrypted.pdf": pdf_render.render_statement(
            statement, encrypt=pdf_render.encryption("finance-2025")
        ),
        "invoice_totals_mismatch.pdf": pdf_render.render_invoice(
            dataclasses.replace(invoice, reference=invoice.reference[:-3] + "901"),
            stated_total=invoice.total + Decimal("10.00"),
        ),
        "invoice_quantity_too_precise.pdf": pdf_render.render_invoice(precise),
        "statement_jpy_overflow.pdf": pdf_render.render_statement(jpy),
        "statement_period_reversed.pdf": pdf_render.render_statement(reversed_period),
        "statement_scanned.pdf": pdf_render.render_scan(
            random.Random(seed + 2).randbytes(120 * 170)
        ),
        "letter_office_move.pdf": pdf_render.render_letter(
            "Our office is moving",
            [
                f"From the first of next month, {pools.vendors[1].name} works from a new address: "
                f"{pools.vendors[1].address}.",
                "Please update your records. Bank details and contacts stay the same.",
            ],
        ),
        "transactions_empty.csv": header.encode(),
        "transactions_wrong_header.csv": (
            f"id,account,date,text,amount\nTX-1,ACC-100001,{month}-02,Coffee,-3.20\n"
        ).encode(),
        "transactions_latin1.csv": (header + latin1_row + "\n").encode("latin-1"),
        "transactions_zero_bytes.csv": b"",
        "ledger_export.xlsx": b"PK\x03\x04" + random.Random(seed + 1).randbytes(400),
        "transactions_{month}_copy.csv": good_csv,
        "transactions_{month}_saved_as_pdf.csv": invoice_pdf,
        BAD_ROWS_FILE: _bad_rows(month, first_transaction_id),
    }
    return {name.format(month=month): data for name, data in files.items()}
