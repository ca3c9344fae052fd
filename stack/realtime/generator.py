"""Synthetic `transactions` events: deterministic for a seed, and cheap enough per event that
producing, not generating, is the bottleneck.

Faker is slow per call, so it runs only once per generator, to fill pools of customers and
merchants; each event then samples those pools with a `random.Random(seed)` and is rendered
into JSON from pre-encoded fragments. Transaction ids come from that RNG too (not uuid4), so
the same seed gives the same events. Times follow a synthetic clock (`start` + i * `step`),
so they are the same for a seed and a start time.
"""

from __future__ import annotations

import itertools
import random
from collections import Counter, deque
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from stack.realtime.events import SCHEMA_VERSION

CATEGORIES = (
    "grocery",
    "restaurants",
    "travel",
    "fuel",
    "electronics",
    "clothing",
    "entertainment",
    "health",
    "utilities",
    "online_services",
)
# Where the merchants are, and what they charge in.
COUNTRIES = (
    ("US", "USD"),
    ("GB", "GBP"),
    ("FR", "EUR"),
    ("DE", "EUR"),
    ("ES", "EUR"),
    ("IT", "EUR"),
    ("NL", "EUR"),
    ("JP", "JPY"),
    ("CA", "CAD"),
    ("AU", "AUD"),
    ("CH", "CHF"),
    ("SE", "SEK"),
    ("BR", "BRL"),
    ("IN", "INR"),
    ("MX", "MXN"),
)
# Status changes an update may make; declined and refunded are final.
NEXT_STATUS = {
    "authorized": ("captured", "captured", "captured", "declined"),
    "captured": ("refunded",),
}

# Each kind of malformed event the producer can emit (`--bad-ratio`), named by the
# transactions_dlq reason the consumer must give it. Emitted in this order, round robin.
MALFORMED_KINDS = (
    "not_json",
    "not_object",
    "missing_field",
    "unknown_field",
    "wrong_type",
    "negative_amount",
    "absurd_amount",
    "bad_amount",
    "unknown_currency",
    "unknown_status",
    "bad_timestamp",
    "oversized",
    "wrong_schema_version",
    "null_key",
    "key_mismatch",
    "bad_version",
)

_UUID_VERSION_4 = (4 << 76) | (0b10 << 62)  # version nibble and RFC 4122 variant bits
_UUID_CLEAR = ~((0xF << 76) | (0b11 << 62))


@dataclass(slots=True)
class Message:
    """One Kafka message: key, value (bytes; None for a tombstone), and what it is."""

    key: bytes | None
    value: bytes | None
    kind: str  # "new", "update", or a malformed kind (a MALFORMED_KINDS name)
    transaction_id: str | None = None
    version: int = 0


@dataclass
class Pools:
    """Fake customers and merchants, drawn once from a seeded Faker (the slow part), kept as
    pre-encoded JSON fragments; and a table of amounts, so no event calls Faker or a
    distribution function."""

    customers: list[str]  # '"account_id":...,"customer_name":...'
    merchants: list[str]  # '"merchant":...,"category":...,"country":...,"currency":...'
    amounts: list[str]  # log-normal amounts in cents, as decimal strings

    @classmethod
    def build(cls, seed: int, customers: int = 2000, merchants: int = 150) -> Pools:
        from faker import Faker

        fake = Faker("en_US")
        fake.seed_instance(seed)
        rng = random.Random(seed)
        customer_fragments = [
            f'"account_id":"AC-{i:06d}","customer_name":{_json(fake.name())}'
            for i in range(customers)
        ]
        names = list(dict.fromkeys(fake.company() for _ in range(merchants * 2)))[:merchants]
        merchant_fragments = []
        for name in names:
            country, currency = rng.choice(COUNTRIES)
            merchant_fragments.append(
                f'"merchant":{_json(name)},"category":"{rng.choice(CATEGORIES)}",'
                f'"country":"{country}","currency":"{currency}"'
            )
        amounts = []
        for _ in range(AMOUNT_TABLE_SIZE):
            cents = min(int(rng.lognormvariate(3.6, 1.1) * 100), 2_500_000) + 1
            amounts.append(f"{cents // 100}.{cents % 100:02d}")
        return cls(customer_fragments, merchant_fragments, amounts)


def _json(text: str) -> str:
    return orjson.dumps(text).decode()


AMOUNT_TABLE_SIZE = 1 << 14


class _Clock:
    """ISO 8601 UTC times at millisecond steps from a start, formatted cheaply: the text of
    the second is cached, as it changes once per 1000 events at most."""

    def __init__(self, start: datetime, step_ms: float) -> None:
        self.start_ms = int(start.timestamp() * 1000)
        self.step_ms = step_ms
        self._second = -1
        self._prefix = ""

    def prefix(self, second: int) -> str:
        if second != self._second:
            self._second = second
            self._prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        return self._prefix


class TransactionGenerator:
    """An endless, deterministic stream of `Message`s for one seed (`take(n)` the next ones).

    update_ratio: share of events that update an earlier transaction (higher version).
    bad_ratio: share of malformed events, each of a different kind in turn.
    start, step_ms: the synthetic clock of event times (event i happens at start + i * step).
    """

    def __init__(
        self,
        seed: int = 42,
        *,
        update_ratio: float = 0.10,
        bad_ratio: float = 0.0,
        start: datetime | None = None,
        step_ms: float = 1.0,
        pools: Pools | None = None,
    ) -> None:
        if not 0 <= update_ratio < 1 or not 0 <= bad_ratio <= 1:
            raise ValueError("update_ratio must be in [0, 1) and bad_ratio in [0, 1]")
        self.rng = random.Random(seed)
        self.pools = pools or Pools.build(seed)
        self.update_ratio = update_ratio
        self.bad_ratio = bad_ratio
        self.clock = _Clock(start or datetime.now(UTC), step_ms)
        # Recent transactions that can still change, as [id, fixed fields, created_at,
        # status, version]; old ones age out (bounded memory).
        self.open: deque[list] = deque(maxlen=20_000)
        self.malformed_kinds = itertools.cycle(MALFORMED_KINDS)
        self.index = 0
        self.made: Counter[str] = Counter()  # messages made so far, by kind

    def _new(self, now: str, *, can_change: bool = True) -> Message:
        rng, pools = self.rng, self.pools
        random_ = rng.random
        h = f"{(rng.getrandbits(128) & _UUID_CLEAR) | _UUID_VERSION_4:032x}"
        tid = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
        head = (
            f'{{"schema_version":{SCHEMA_VERSION},"transaction_id":"{tid}",'
            f"{pools.customers[int(random_() * len(pools.customers))]},"
            f"{pools.merchants[int(random_() * len(pools.merchants))]},"
            f'"amount":"{pools.amounts[rng.getrandbits(14)]}"'
        )
        status = "declined" if random_() < 0.03 else "authorized"
        if can_change and status == "authorized":
            self.open.append([tid, head, now, status, 1])
        value = (
            f'{head},"status":"{status}","created_at":"{now}","event_time":"{now}","version":1}}'
        )
        return Message(tid.encode(), value.encode(), "new", tid, 1)

    def _update(self, now: str) -> Message:
        # Prefer recent transactions, as real status changes mostly come soon after.
        open_ = self.open
        position = len(open_) - 1 - min(int(self.rng.expovariate(1 / 200)), len(open_) - 1)
        txn = open_[position]
        tid, head, created_at, status, version = txn
        status = self.rng.choice(NEXT_STATUS[status])
        version += 1
        if status in NEXT_STATUS:
            txn[3], txn[4] = status, version
        else:
            del open_[position]
        value = (
            f'{head},"status":"{status}","created_at":"{created_at}",'
            f'"event_time":"{now}","version":{version}}}'
        )
        return Message(tid.encode(), value.encode(), "update", tid, version)

    def take(self, n: int) -> list[Message]:
        """The next `n` messages. The common case (a new transaction) is inlined here: this
        loop is most of the producer's own cost."""
        rng, pools, clock, open_ = self.rng, self.pools, self.clock, self.open
        random_, getrandbits = rng.random, rng.getrandbits
        customers, merchants, amounts = pools.customers, pools.merchants, pools.amounts
        n_customers, n_merchants = len(customers), len(merchants)
        bad_ratio = self.bad_ratio
        change_ratio = bad_ratio + self.update_ratio
        out: list[Message] = []
        append = out.append
        new = 0
        index = self.index
        start_ms, step_ms = clock.start_ms, clock.step_ms
        second, prefix = -1, ""
        for index in range(self.index, self.index + n):
            s, milli = divmod(start_ms + int(index * step_ms), 1000)
            if s != second:  # the clock, inlined: see _Clock.at
                second, prefix = s, clock.prefix(s)
            now = f"{prefix}.{milli:03d}Z"
            draw = random_()
            if draw < change_ratio:
                if draw < bad_ratio:
                    append(malformed(next(self.malformed_kinds), self._new(now, can_change=False)))
                    self.made[out[-1].kind] += 1
                    continue
                if open_:
                    append(self._update(now))
                    self.made["update"] += 1
                    continue
            new += 1
            h = f"{(getrandbits(128) & _UUID_CLEAR) | _UUID_VERSION_4:032x}"
            tid = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
            head = (
                f'{{"schema_version":{SCHEMA_VERSION},"transaction_id":"{tid}",'
                f"{customers[int(random_() * n_customers)]},"
                f"{merchants[int(random_() * n_merchants)]},"
                f'"amount":"{amounts[getrandbits(14)]}"'
            )
            if random_() < 0.03:
                status = "declined"
            else:
                status = "authorized"
                open_.append([tid, head, now, status, 1])
            append(
                Message(
                    tid.encode(),
                    (
                        f'{head},"status":"{status}","created_at":"{now}",'
                        f'"event_time":"{now}","version":1}}'
                    ).encode(),
                    "new",
                    tid,
                    1,
                )
            )
        self.index = index + 1 if n else self.index
        self.made["new"] += new
        return out


def malformed(kind: str, good: Message) -> Message:
    """A broken variant of a valid new-transaction event, broken in the way `kind` names.

    The transaction it was made from is not used otherwise (so it is not counted as valid).
    """
    event = orjson.loads(good.value)
    key = good.key
    value: bytes | None
    match kind:
        case "not_json":
            value = b'{"schema_version": 1, "transaction_id": ' + good.key[:8]  # cut short
        case "not_object":
            value = orjson.dumps([event["transaction_id"], event["amount"]])
        case "missing_field":
            del event["merchant"]
        case "unknown_field":
            event["cvv"] = "123"
        case "wrong_type":
            event["customer_name"] = 12345
        case "negative_amount":
            event["amount"] = "-" + event["amount"]
        case "absurd_amount":
            event["amount"] = "98765432.10"
        case "bad_amount":
            event["amount"] = "12.345"
        case "unknown_currency":
            event["currency"] = "XYZ"
        case "unknown_status":
            event["status"] = "pending_review"
        case "bad_timestamp":
            event["event_time"] = event["created_at"] = "2026-13-45T25:61:00Z"
        case "oversized":
            event["customer_name"] = "x" * 8000
        case "wrong_schema_version":
            event["schema_version"] = 99
        case "null_key":
            key = None
        case "key_mismatch":
            key = b"not-" + good.key
        case "bad_version":
            event["version"] = 0
        case _:
            raise ValueError(f"unknown malformed kind {kind!r}")
    if kind not in ("not_json", "not_object"):
        value = orjson.dumps(event)
    return Message(key, value, kind, good.transaction_id, 0)
