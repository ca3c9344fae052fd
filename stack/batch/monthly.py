"""One month of a finance team's mail: the statement CSV rows, account statements, invoices.

Every draw comes from a `random.Random` seeded with (seed, month), so a month's files are the
same bytes whatever other months are generated alongside it.
"""

from __future__ import annotations

import calendar
import datetime as dt
import random
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from stack.batch import prose
from stack.batch.formats import format_money
from stack.batch.pools import CATEGORY_AMOUNTS, CATEGORY_WEIGHTS, Account, Pools, Vendor
from stack.errors import StackError

CENT = Decimal("0.01")
MAX_MONTHS = 240


def parse_months(spec: str) -> list[str]:
    """'2025-01:2025-06' (a range), '2025-03' or '2025-01,2025-04' -> ['YYYY-MM', ...]."""
    months: list[str] = []
    for part in spec.split(","):
        first, _, last = part.strip().partition(":")
        start, end = _month(first, spec), _month(last or first, spec)
        if end < start:
            raise StackError(f"--months {spec!r}: {last} is before {first}", exit_code=2)
        year, month = start
        while (year, month) <= end:
            months.append(f"{year:04d}-{month:02d}")
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
            if len(months) > MAX_MONTHS:
                raise StackError(f"--months {spec!r}: more than {MAX_MONTHS} months", exit_code=2)
    return sorted(set(months))


def _month(text: str, spec: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d{4})-(\d{2})", text.strip())
    if not match or not 1 <= int(match[2]) <= 12:
        raise StackError(
            f"--months {spec!r}: expected YYYY-MM, YYYY-MM:YYYY-MM or a comma list, got {text!r}",
            exit_code=2,
        )
    return int(match[1]), int(match[2])


def month_rng(seed: int, month: str, what: str) -> random.Random:
    # A string seed is hashed with SHA-512 by `random`: stable across runs and platforms.
    return random.Random(f"{seed}:{month}:{what}")


def _bounds(month: str) -> tuple[dt.date, dt.date]:
    year, mon = int(month[:4]), int(month[5:])
    return dt.date(year, mon, 1), dt.date(year, mon, calendar.monthrange(year, mon)[1])


def _cents(rng: random.Random, low: int | Decimal, high: int | Decimal) -> Decimal:
    return Decimal(rng.randint(int(low * 100), int(high * 100))).scaleb(-2)


def _description(rng: random.Random, category: str, merchant: str, city: str, month: str) -> str:
    if category in ("groceries", "restaurants", "transport", "office", "travel"):
        verb = rng.choice(("CARD PAYMENT", "CARD PAYMENT", "CONTACTLESS"))
        return f"{verb} {merchant} {city}".upper() if rng.random() < 0.3 else f"{verb} {merchant}"
    if category in ("utilities", "telecom", "insurance", "software", "rent"):
        return f"DIRECT DEBIT {merchant} REF {rng.randint(10**7, 10**8 - 1)}"
    if category == "fees":
        return rng.choice(
            (
                "Monthly account fee",
                "Foreign transaction fee",
                "ATM withdrawal fee",
                "Card replacement fee",
                "Unarranged overdraft fee",
            )
        )
    if category == "salary":
        return f"SALARY {merchant} {calendar.month_abbr[int(month[5:])].upper()} {month[:4]}"
    if category == "refund":
        return f"REFUND {merchant}"
    return f"TRANSFER FROM {merchant}"


def transactions(pools: Pools, seed: int, month: str, count: int) -> list[tuple[str, ...]]:
    """`count` CSV rows for `month`, in posting order, ids unique across months."""
    rng = month_rng(seed, month, "transactions")
    first, last = _bounds(month)
    categories, weights = list(CATEGORY_WEIGHTS), list(CATEGORY_WEIGHTS.values())
    drawn = []
    for category in rng.choices(categories, weights, k=count):
        account = rng.choice(pools.accounts)
        merchant = rng.choice(pools.merchants[category])
        low, high = CATEGORY_AMOUNTS[category]
        drawn.append(
            (
                rng.randint(first.day, last.day),
                account,
                merchant.name,
                category,
                _cents(rng, low, high),
                _description(rng, category, merchant.name, merchant.city, month),
            )
        )
    drawn.sort(key=lambda row: row[0])  # stable: same-day rows keep their drawing order
    tag = month.replace("-", "")
    return [
        (
            f"TX-{tag}-{seq:07d}",
            account.account_id,
            first.replace(day=day).isoformat(),
            description,
            merchant,
            category,
            f"{amount:.2f}",
            account.currency,
        )
        for seq, (day, account, merchant, category, amount, description) in enumerate(drawn, 1)
    ]


@dataclass(frozen=True)
class LineItem:
    description: str
    amount: Decimal
    item_date: dt.date | None = None
    quantity: Decimal | None = None
    unit_price: Decimal | None = None


@dataclass(frozen=True)
class Statement:
    reference: str
    account: Account
    period_start: dt.date
    period_end: dt.date
    opening_balance: Decimal
    closing_balance: Decimal
    lines: tuple[LineItem, ...]
    paragraphs: tuple[str, ...]

    @property
    def total_credits(self) -> Decimal:
        return sum((line.amount for line in self.lines if line.amount > 0), Decimal("0.00"))

    @property
    def total_debits(self) -> Decimal:
        return sum((line.amount for line in self.lines if line.amount < 0), Decimal("0.00"))


@dataclass(frozen=True)
class Invoice:
    reference: str
    vendor: Vendor
    bill_to: str
    issued_on: dt.date
    due_on: dt.date
    currency: str
    tax_rate: Decimal
    lines: tuple[LineItem, ...]
    subtotal: Decimal
    tax: Decimal
    total: Decimal
    paragraphs: tuple[str, ...]


def statement(
    pools: Pools, rng: random.Random, month: str, account: Account, number: int
) -> Statement:
    first, last = _bounds(month)
    # Mostly one page; one statement in five is a busy month that runs onto a second page.
    count = rng.randint(40, 60) if rng.random() < 0.2 else rng.randint(6, 22)
    categories = [c for c in CATEGORY_WEIGHTS if c not in ("rent",)]
    weights = [CATEGORY_WEIGHTS[c] for c in categories]
    drawn = []
    for category in rng.choices(categories, weights, k=count):
        merchant = rng.choice(pools.merchants[category])
        low, high = CATEGORY_AMOUNTS[category]
        day = first.replace(day=rng.randint(first.day, last.day))
        description = _description(rng, category, merchant.name, merchant.city, month)
        drawn.append(
            LineItem(description=description, amount=_cents(rng, low, high), item_date=day)
        )
    lines = tuple(sorted(drawn, key=lambda line: line.item_date))
    opening = _cents(rng, 200, 60000 if account.kind == "business" else 12000)
    closing = opening + sum(line.amount for line in lines)
    largest = min(lines, key=lambda line: line.amount)
    facts = {
        "kind": account.kind,
        "account": account.account_id,
        "currency": account.currency,
        "opening": format_money(opening),
        "closing": format_money(closing),
        "count": len(lines),
        "month_name": calendar.month_name[first.month],
        "year": first.year,
        "start": first.isoformat(),
        "end": last.isoformat(),
        "credits": format_money(sum((x.amount for x in lines if x.amount > 0), Decimal(0))),
        "debits": format_money(-sum((x.amount for x in lines if x.amount < 0), Decimal(0))),
        "largest": format_money(-largest.amount) if largest.amount < 0 else "",
        "largest_desc": largest.description,
        "largest_date": largest.item_date.isoformat(),
        "rate": f"{rng.randint(89, 199) / 10:.1f}",
    }
    return Statement(
        reference=f"STM-{month.replace('-', '')}-{account.account_id[4:]}-{number:03d}",
        account=account,
        period_start=first,
        period_end=last,
        opening_balance=opening,
        closing_balance=closing,
        lines=lines,
        paragraphs=tuple(prose.statement_paragraphs(rng, facts)),
    )


def invoice(pools: Pools, rng: random.Random, month: str, vendor: Vendor, number: int) -> Invoice:
    first, last = _bounds(month)
    issued = first.replace(day=rng.randint(first.day, last.day))
    catalogue = pools.catalogue(vendor.trade)
    items = rng.sample(catalogue, rng.randint(2, len(catalogue)))
    lines = []
    for item in items:
        if item.half_units:
            quantity = Decimal(rng.randint(item.qty_low * 2, item.qty_high * 2)) / 2
        else:
            quantity = Decimal(rng.randint(item.qty_low, item.qty_high))
        unit = _cents(rng, item.unit_low, item.unit_high)
        lines.append(
            LineItem(
                item.description,
                (quantity * unit).quantize(CENT, ROUND_HALF_UP),
                quantity=quantity,
                unit_price=unit,
            )
        )
    if rng.random() < 0.3:
        expenses = _cents(rng, 20, 400)
        lines.append(
            LineItem(
                "Travel and expenses, as per receipts",
                expenses,
                quantity=Decimal(1),
                unit_price=expenses,
            )
        )
    if rng.random() < 0.15:
        discount = -_cents(rng, 10, 150)
        lines.append(
            LineItem("Loyalty discount", discount, quantity=Decimal(1), unit_price=discount)
        )
    subtotal = sum((line.amount for line in lines), Decimal("0.00"))
    tax = (subtotal * vendor.tax_rate).quantize(CENT, ROUND_HALF_UP)
    total = subtotal + tax
    reference = f"INV-{vendor.code}-{month.replace('-', '')}-{number:03d}"
    due = issued + dt.timedelta(days=vendor.terms_days)
    facts = {
        "vendor": vendor.name,
        "trade": vendor.trade,
        "client": pools.client,
        "month_name": calendar.month_name[first.month],
        "year": first.year,
        "reference": reference,
        "city": vendor.city,
        "terms": vendor.terms_days,
        "due": due.isoformat(),
        "currency": vendor.currency,
        "total": format_money(total),
        "late_rate": rng.choice(("0.5", "1", "1.5")),
        "contact": vendor.contact,
        "email": vendor.email,
        "phone": vendor.phone,
    }
    return Invoice(
        reference=reference,
        vendor=vendor,
        bill_to=f"{pools.client}, {pools.client_address}",
        issued_on=issued,
        due_on=due,
        currency=vendor.currency,
        tax_rate=vendor.tax_rate,
        lines=tuple(lines),
        subtotal=subtotal,
        tax=tax,
        total=total,
        paragraphs=tuple(prose.invoice_paragraphs(rng, facts)),
    )


def documents(pools: Pools, seed: int, month: str, count: int) -> list[Statement | Invoice]:
    """`count` documents for `month`: statements and invoices alternating."""
    rng = month_rng(seed, month, "documents")
    statements = (count + 1) // 2
    accounts = rng.sample(pools.accounts, min(statements, len(pools.accounts)))
    accounts += [rng.choice(pools.accounts) for _ in range(statements - len(accounts))]
    vendors = rng.sample(pools.vendors, min(count - statements, len(pools.vendors)))
    vendors += [rng.choice(pools.vendors) for _ in range(count - statements - len(vendors))]
    made: list[Statement | Invoice] = []
    for index in range(count):
        number = index // 2 + 1
        if index % 2 == 0:
            made.append(statement(pools, rng, month, accounts[index // 2], number))
        else:
            made.append(invoice(pools, rng, month, vendors[index // 2], number))
    return made
