"""What every job returns: a dataclass whose `to_dict()` is plain JSON data (for `--json`,
Airflow's XCom, the agent), with Decimals as exact strings and times in ISO 8601."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any


def jsonable(value: Any) -> Any:
    """`value` with every nested dataclass, mapping and sequence made of JSON types."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return value.to_dict() if hasattr(value, "to_dict") else _fields(value)
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(item) for item in value]
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    return str(value)


def _fields(value: Any) -> dict:
    return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}


class Summary:
    """Mix-in for the jobs' dataclasses: `to_dict()` is the fields, JSON-safe, plus the
    values of the properties named in `derived` (counts and rates computed from the fields)."""

    derived: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        data = _fields(self)
        for name in self.derived:
            data[name] = jsonable(getattr(self, name))
        return data
