"""What the monthly files look like: the contract between `generate` (writes them) and
`ingest` (reads them). Change a label here and both sides follow."""

from __future__ import annotations

import re
from decimal import Decimal

# The monthly statement CSV: header row, then one transaction per line.
CSV_COLUMNS = (
    "transaction_id",
    "account_id",
    "posted_date",
    "description",
    "merchant",
    "category",
    "amount",
    "currency",
)

# Currencies a statement may use (ISO 4217). Anything else is rejected as unknown_currency.
CURRENCIES = frozenset(
    [
        "AED",
        "AUD",
        "BRL",
        "CAD",
        "CHF",
        "CNY",
        "CZK",
        "DKK",
        "EUR",
        "GBP",
        "HKD",
        "HUF",
        "ILS",
        "INR",
        "JPY",
        "KRW",
        "MXN",
        "NOK",
        "NZD",
        "PLN",
        "RON",
        "SEK",
        "SGD",
        "THB",
        "TRY",
        "USD",
        "ZAR",
    ]
)

# Largest absolute amount numeric(12,2) holds.
MAX_AMOUNT = Decimal("9999999999.99")
# Invoice quantities: numeric(12,3), so at most 3 decimals and this large.
QUANTITY_DECIMALS = 3
MAX_QUANTITY = Decimal("999999999.999")

# PDF titles: the first words on page one say which kind of document it is.
STATEMENT_TITLE = "ACCOUNT STATEMENT"
INVOICE_TITLE = "INVOICE"

# The header labels of each kind's line-item table (pdfplumber finds the table by them).
STATEMENT_TABLE_HEADER = ("Date", "Description", "Amount")
INVOICE_TABLE_HEADER = ("#", "Description", "Quantity", "Unit price", "Amount")

# "Label: value" lines in the PDFs' header and totals blocks.
STATEMENT_FIELDS = {
    "reference": "Statement number",
    "account_id": "Account",
    "holder": "Account holder",
    "period": "Period",
    "currency": "Currency",
    "opening_balance": "Opening balance",
    "total_credits": "Total credits",
    "total_debits": "Total debits",
    "closing_balance": "Closing balance",
}
INVOICE_FIELDS = {
    "reference": "Invoice number",
    "vendor": "Vendor",
    "bill_to": "Bill to",
    "issued_on": "Issue date",
    "due_on": "Due date",
    "currency": "Currency",
    "subtotal": "Subtotal",
    "tax": "Tax",
    "total": "Total due",
}


def format_money(value: Decimal) -> str:
    """1234.5 -> '1,234.50' (what the PDFs print)."""
    return f"{value:,.2f}"


_MONEY = re.compile(r"^[+-]?\d{1,3}(,\d{3})*(\.\d{2})$|^[+-]?\d+(\.\d{2})$")


def parse_money(text: str) -> Decimal | None:
    """'-1,234.50' -> Decimal('-1234.50'); None when it is not an amount."""
    text = text.strip()
    if not _MONEY.match(text):
        return None
    return Decimal(text.replace(",", ""))
