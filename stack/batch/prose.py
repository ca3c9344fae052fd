"""The free text in the PDFs: short, readable paragraphs built from the document's own facts.

These texts become the AI agent's document corpus, so they say things a reader could ask
about (largest debit, payment terms, who to contact) and vary from one document to the next.
"""

from __future__ import annotations

import random

_INVOICE_OPENINGS = (
    "Thank you for working with {vendor}. This invoice covers the {trade} services we "
    "provided to {client} in {month_name} {year}.",
    "Please find below our charges for {month_name} {year}. We appreciate the continued "
    "trust of the {client} team.",
    "This is invoice {reference} from {vendor} for work delivered during {month_name} "
    "{year}, as agreed in the current service agreement.",
    "{vendor} is pleased to bill {client} for the following {trade} items, delivered to "
    "the {city} office in {month_name}.",
)
_INVOICE_TERMS = (
    "Payment is due within {terms} days of the issue date, that is by {due}.",
    "Please pay the total of {currency} {total} by bank transfer no later than {due}, "
    "quoting {reference} as the payment reference.",
    "Our payment terms are net {terms} days. Invoices paid after {due} may incur interest "
    "of {late_rate}% per month as set out in the framework contract.",
)
_INVOICE_TRADE_NOTES = {
    "software": (
        "Licences renew automatically each month unless cancelled thirty days before renewal.",
        "Seat counts are taken from the admin console on the last business day of the month.",
    ),
    "consulting": (
        "Time is billed in half-day steps as recorded in the shared timesheet.",
        "The architecture notes and the recorded handover session are in the project space.",
    ),
    "logistics": (
        "All shipments were delivered to {city}; proof of delivery is available on request.",
        "Storage is charged per pallet and week, counted every Monday morning.",
    ),
    "facilities": (
        "Cleaning visits took place on Tuesdays; one visit was moved because of a holiday.",
        "The HVAC filters were replaced and the next inspection is due in three months.",
    ),
    "hardware": (
        "All devices carry a three-year warranty; serial numbers are listed in the delivery note.",
        "Old equipment was collected for certified recycling at no extra charge.",
    ),
    "marketing": (
        "Campaign reports with reach and click-through figures are sent separately.",
        "Printed material was delivered in two batches to the reception desk.",
    ),
    "catering": (
        "Head counts follow the final numbers confirmed two days before each event.",
        "Vegetarian and vegan options were included at no extra charge.",
    ),
    "legal": (
        "Hours are recorded in six-minute units and rounded to the nearest half hour.",
        "This invoice does not include court or registry fees paid on your behalf.",
    ),
}
_INVOICE_CONTACTS = (
    "Questions about this invoice? Contact {contact} at {email} or {phone}.",
    "For billing questions, write to {email}; {contact} usually answers within one business day.",
    "Your account manager is {contact} ({phone}).",
)

_STATEMENT_SUMMARIES = (
    "Your {kind} account {account} moved from {currency} {opening} to {currency} {closing} "
    "over the period, with {count} transactions.",
    "During {month_name} {year} we posted {count} transactions to account {account}; "
    "the balance closed at {currency} {closing}.",
    "This statement lists every transaction posted to {account} between {start} and {end}. "
    "Money in totalled {currency} {credits} and money out {currency} {debits}.",
)
_STATEMENT_HIGHLIGHTS = (
    "The largest payment this month was {largest_desc} on {largest_date} for {currency} {largest}.",
    "Your biggest single debit was {currency} {largest} ({largest_desc}, {largest_date}).",
)
_STATEMENT_NOTICES = (
    "From next month, the arranged overdraft rate changes to {rate}% a year. No action is needed.",
    "Card payments abroad are converted at the card network's rate on the posting date.",
    "We will never ask for your password or one-time codes by email or phone.",
    "Please check this statement and tell us within 30 days about any entry you do not recognise.",
    "Interest on savings is paid on the first business day of each quarter.",
    "Scheduled maintenance on the second Sunday may delay card payments by a few minutes.",
)


def invoice_paragraphs(rng: random.Random, facts: dict) -> list[str]:
    """Three or four sentences in two paragraphs about an invoice."""
    first = [rng.choice(_INVOICE_OPENINGS), rng.choice(_INVOICE_TRADE_NOTES[facts["trade"]])]
    second = [rng.choice(_INVOICE_TERMS)]
    if rng.random() < 0.7:
        second.append(rng.choice(_INVOICE_CONTACTS))
    return [" ".join(first).format(**facts), " ".join(second).format(**facts)]


def statement_paragraphs(rng: random.Random, facts: dict) -> list[str]:
    """A summary of the period, its largest debit, and one or two notices."""
    summary = rng.choice(_STATEMENT_SUMMARIES)
    if facts.get("largest"):
        summary += " " + rng.choice(_STATEMENT_HIGHLIGHTS)
    notices = rng.sample(_STATEMENT_NOTICES, rng.choice((1, 2)))
    return [summary.format(**facts), " ".join(notices).format(**facts)]
