"""Terminal output shared by every command: rich on stderr for people, stdout for data."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from rich.console import Console

# Progress, tables and messages go to stderr so that `--json` output on stdout stays clean.
err = Console(stderr=True)
out = Console()


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def print_json(data: Any) -> None:
    """One JSON document on stdout (Decimals as strings: exact; dates as ISO 8601)."""
    print(json.dumps(data, default=_default, indent=None))
