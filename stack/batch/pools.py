"""The synthetic world the monthly files describe: accounts, merchants, vendors.

Built once per seed from a seeded Faker, before any month is drawn, so that every month sees
the same accounts and vendors and a month's files do not depend on which other months are
generated with it. Nothing here is real: Faker invents the names, emails use example domains.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal

from faker import Faker


@dataclass(frozen=True)
class Account:
    account_id: str
    holder: str
    currency: str
    iban: str
    kind: str  # current | business | savings


@dataclass(frozen=True)
class Merchant:
    name: str
    category: str
    city: str


@dataclass(frozen=True)
class CatalogueItem:
    description: str
    unit_low: Decimal
    unit_high: Decimal
    qty_low: int
    qty_high: int
    half_units: bool = False  # quantities in steps of 0.5 (days, hours)


@dataclass(frozen=True)
class Vendor:
    name: str
    code: str
    trade: str
    city: str
    address: str
    contact: str
    email: str
    phone: str
    currency: str
    tax_rate: Decimal
    terms_days: int


# Category -> (lowest, highest) amount in whole units; negative: money out.
CATEGORY_AMOUNTS: dict[str, tuple[int, int]] = {
    "groceries": (-180, -4),
    "restaurants": (-140, -7),
    "transport": (-65, -2),
    "travel": (-1600, -60),
    "utilities": (-320, -35),
    "software": (-600, -9),
    "office": (-450, -12),
    "telecom": (-130, -18),
    "insurance": (-700, -45),
    "rent": (-3600, -750),
    "fees": (-35, -1),
    "salary": (1800, 6800),
    "refund": (5, 320),
    "transfer": (40, 2500),
}

# How often each category shows up in a month (money out is the bulk).
CATEGORY_WEIGHTS: dict[str, int] = {
    "groceries": 22,
    "restaurants": 16,
    "transport": 14,
    "travel": 4,
    "utilities": 5,
    "software": 7,
    "office": 6,
    "telecom": 4,
    "insurance": 2,
    "rent": 2,
    "fees": 5,
    "salary": 3,
    "refund": 4,
    "transfer": 6,
}

_MERCHANT_PATTERNS: dict[str, tuple[str, ...]] = {
    "groceries": (
        "{last} Market",
        "{city} Fresh Foods",
        "{last} & Sons Grocers",
        "GreenBasket {city}",
    ),
    "restaurants": ("Cafe {last}", "{last}'s Kitchen", "Trattoria {last}", "{city} Noodle Bar"),
    "transport": ("{city} Metro", "{last} Taxi Co", "RailConnect", "{city} Bike Share"),
    "travel": ("{last} Airways", "Hotel {last}", "{city} Suites", "{last} Travel Agency"),
    "utilities": ("{city} Power & Light", "{city} Water Works", "{last} Gas Supply"),
    "software": ("{company} Cloud", "{last}Soft", "{company} Analytics", "{last} Hosting"),
    "office": ("{last} Office Supplies", "{company}", "PaperTrail {city}"),
    "telecom": ("{last} Mobile", "{city} Fibre", "{company} Telecom"),
    "insurance": ("{last} Mutual", "{company} Insurance"),
    "rent": ("{last} Property Management", "{city} Estates"),
    "fees": ("Bank fees",),
    "salary": ("{company}",),
    "refund": ("{last} Market", "{company}", "{last} Airways"),
    "transfer": ("{first} {last}", "{company}"),
}

# What each kind of vendor bills for: (description, unit price range, quantity range).
_CATALOGUES: dict[str, tuple[CatalogueItem, ...]] = {
    "software": (
        CatalogueItem("Analytics platform licence, standard seat", Decimal(18), Decimal(95), 3, 60),
        CatalogueItem("Premium support plan, monthly", Decimal(180), Decimal(900), 1, 1),
        CatalogueItem("Cloud object storage, 1 TB block", Decimal(14), Decimal(42), 1, 25),
        CatalogueItem("Onboarding workshop (half day)", Decimal(450), Decimal(1100), 1, 2),
        CatalogueItem("API request bundle, 1 million calls", Decimal(35), Decimal(120), 1, 12),
    ),
    "consulting": (
        CatalogueItem(
            "Data engineering consulting (days)", Decimal(650), Decimal(1400), 1, 12, True
        ),
        CatalogueItem("Architecture review and written report", Decimal(1800), Decimal(4200), 1, 1),
        CatalogueItem("Project management (hours)", Decimal(85), Decimal(165), 2, 40, True),
        CatalogueItem(
            "Training session for the finance team (days)", Decimal(900), Decimal(1600), 1, 3, True
        ),
    ),
    "logistics": (
        CatalogueItem("Pallet shipment, regional", Decimal(60), Decimal(240), 1, 14),
        CatalogueItem("Express courier envelope", Decimal(8), Decimal(26), 1, 30),
        CatalogueItem("Warehouse storage (pallet-weeks)", Decimal(6), Decimal(15), 10, 120),
        CatalogueItem("Customs documentation handling", Decimal(45), Decimal(110), 1, 6),
    ),
    "facilities": (
        CatalogueItem("Office cleaning, weekly visit", Decimal(120), Decimal(310), 4, 5),
        CatalogueItem("Window cleaning, all floors", Decimal(180), Decimal(420), 1, 2),
        CatalogueItem("HVAC maintenance visit", Decimal(140), Decimal(380), 1, 3),
        CatalogueItem("Replacement ceiling lights", Decimal(22), Decimal(65), 2, 24),
    ),
    "hardware": (
        CatalogueItem("Laptop, 14-inch, 32 GB memory", Decimal(950), Decimal(2200), 1, 6),
        CatalogueItem("27-inch monitor", Decimal(180), Decimal(520), 1, 10),
        CatalogueItem("USB-C docking station", Decimal(95), Decimal(260), 1, 10),
        CatalogueItem("Ergonomic keyboard and mouse set", Decimal(45), Decimal(140), 1, 12),
    ),
    "marketing": (
        CatalogueItem(
            "Social media campaign management (hours)", Decimal(70), Decimal(140), 4, 40, True
        ),
        CatalogueItem("Print run, 500 brochures (A5)", Decimal(160), Decimal(480), 1, 4),
        CatalogueItem("Product photography session (hours)", Decimal(90), Decimal(220), 2, 8, True),
        CatalogueItem("Trade fair booth rental (days)", Decimal(600), Decimal(1900), 1, 3),
    ),
    "catering": (
        CatalogueItem("Team lunch buffet (per person)", Decimal(12), Decimal(29), 8, 45),
        CatalogueItem("Coffee and pastries (per person)", Decimal(4), Decimal(11), 8, 60),
        CatalogueItem("Quarterly all-hands dinner (per person)", Decimal(35), Decimal(85), 10, 50),
    ),
    "legal": (
        CatalogueItem("Contract review (hours)", Decimal(180), Decimal(420), 1, 14, True),
        CatalogueItem("Trademark renewal filing", Decimal(250), Decimal(900), 1, 2),
        CatalogueItem("Data protection audit (days)", Decimal(900), Decimal(1800), 1, 4, True),
    ),
}

_VENDOR_SUFFIX = {
    "software": "Software",
    "consulting": "Consulting",
    "logistics": "Logistics",
    "facilities": "Facility Services",
    "hardware": "Hardware",
    "marketing": "Marketing",
    "catering": "Catering",
    "legal": "Legal LLP",
}

_TAX_RATES = (Decimal("0.00"), Decimal("0.07"), Decimal("0.19"), Decimal("0.20"), Decimal("0.21"))


@dataclass(frozen=True)
class Pools:
    accounts: tuple[Account, ...]
    merchants: dict[str, tuple[Merchant, ...]]
    vendors: tuple[Vendor, ...]
    client: str  # the company that receives the invoices (the finance team's employer)
    client_address: str
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]

    @staticmethod
    def catalogue(trade: str) -> tuple[CatalogueItem, ...]:
        return _CATALOGUES[trade]


def build_pools(seed: int, *, accounts: int = 40, vendors: int = 24) -> Pools:
    """Every name the files use, drawn once from Faker seeded with `seed`."""
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = random.Random(f"pools:{seed}")

    def pattern_name(pattern: str) -> str:
        return pattern.format(
            last=fake.last_name(),
            first=fake.first_name(),
            city=fake.city(),
            company=fake.company(),
        )

    account_list = []
    for number in rng.sample(range(100000, 999999), accounts):
        kind = rng.choices(("current", "business", "savings"), (5, 3, 1))[0]
        holder = fake.company() if kind == "business" else fake.name()
        currency = rng.choices(("EUR", "USD", "GBP", "CHF"), (6, 2, 2, 1))[0]
        account_list.append(Account(f"ACC-{number}", holder, currency, fake.iban(), kind))

    merchants: dict[str, tuple[Merchant, ...]] = {}
    for category, patterns in _MERCHANT_PATTERNS.items():
        count = 1 if category == "fees" else 12
        merchants[category] = tuple(
            Merchant(pattern_name(rng.choice(patterns)), category, fake.city())
            for _ in range(count)
        )

    vendor_list = []
    trades = sorted(_CATALOGUES)
    for index in range(vendors):
        trade = trades[index % len(trades)]
        base = fake.last_name()
        name = f"{base} {_VENDOR_SUFFIX[trade]}"
        contact = fake.name()
        vendor_list.append(
            Vendor(
                name=name,
                code=f"{base[:3].upper()}{index:02d}",
                trade=trade,
                city=fake.city(),
                address=fake.address().replace("\n", ", "),
                contact=contact,
                email=f"billing@{base.lower()}-{trade}.example.com",
                phone=fake.numerify("+1-555-###-####"),
                currency=rng.choices(("EUR", "USD", "GBP"), (6, 3, 2))[0],
                tax_rate=rng.choice(_TAX_RATES),
                terms_days=rng.choice((14, 30, 30, 45, 60)),
            )
        )

    return Pools(
        accounts=tuple(account_list),
        merchants=merchants,
        vendors=tuple(vendor_list),
        client=f"{fake.last_name()} Analytics Ltd",
        client_address=fake.address().replace("\n", ", "),
        first_names=tuple(fake.first_name() for _ in range(60)),
        last_names=tuple(fake.last_name() for _ in range(60)),
    )
