"""Seeded mutations of valid inputs, for tests that feed the pipelines what nobody here wrote:
truncations, byte flips, inserted quotes and delimiters, other encodings, changed keys."""

from __future__ import annotations

import random

INSERTS = (b'"', b"'", b",", b";", b"{", b"}", b"[", b"\\", b"\x00", b"\n", b"\r\n", b"\xff")


def mutate_bytes(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    """One mutation of `data`: (what was done, the result)."""
    kind = rng.choice(("truncate", "flip", "insert", "delete", "encode", "duplicate", "grow"))
    at = rng.randrange(len(data) + 1) if data else 0
    if kind == "truncate":
        return kind, data[:at]
    if kind == "flip" and data:
        at = min(at, len(data) - 1)
        return kind, data[:at] + bytes([data[at] ^ (1 << rng.randrange(8))]) + data[at + 1 :]
    if kind == "insert":
        return kind, data[:at] + rng.choice(INSERTS) + data[at:]
    if kind == "delete" and data:
        return kind, data[:at] + data[at + rng.randrange(1, 8) :]
    if kind == "encode":
        text = data.decode("utf-8", errors="replace")
        encoding = rng.choice(("utf-16", "utf-16-le", "utf-32", "latin-1", "utf-8-sig", "cp1252"))
        return f"encode {encoding}", text.encode(encoding, errors="replace")
    if kind == "duplicate":
        return kind, data + data[at:]
    return kind, data[:at] + b" " * rng.choice((1, 100, 5000)) + data[at:]


def mutate_key(rng: random.Random, key: bytes | None, other: bytes) -> tuple[str, bytes | None]:
    kind = rng.choice(("none", "empty", "other", "upper", "padded", "flip"))
    if kind == "none":
        return "key none", None
    if kind == "empty":
        return "key empty", b""
    if kind == "other":
        return "key other", other
    if kind == "upper":
        return "key upper", (key or b"").upper()
    if kind == "padded":
        return "key padded", b" " + (key or b"") + b" "
    return "key flip", mutate_bytes(rng, key or b"")[1]


def mutants(
    rng: random.Random, messages: list[tuple[bytes, bytes]], count: int
) -> list[tuple[str, bytes | None, bytes | None]]:
    """`count` mutants of random (key, value) pairs of `messages`: (kind, key, value)."""
    out = []
    for _ in range(count):
        key, value = rng.choice(messages)
        if rng.random() < 0.2:
            kind, key = mutate_key(rng, key, rng.choice(messages)[0])
        else:
            kind, value = mutate_bytes(rng, value)
        out.append((kind, key, value))
    return out
