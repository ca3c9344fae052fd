"""The warehouses the stack loads and dbt builds: one module per target, each owning its
connection, its readiness check and its load-state table (the watermarks).

`TARGET_NAMES` is the one list of target names: the WAREHOUSE_TARGET setting, the CLI's
--target and dbt's profile outputs (dbt/profiles.yml) are named after it. Drivers are imported
only by the chosen target's module.
"""

from __future__ import annotations

import importlib
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from stack.errors import ConfigError

if TYPE_CHECKING:
    import pyarrow as pa

    from stack.settings import Settings
    from stack.warehouse.types import TableSpec

# name -> (module, class)
TARGETS: dict[str, tuple[str, str]] = {
    "duckdb": ("stack.warehouse.targets.duckdb", "DuckDBTarget"),
    "snowflake": ("stack.warehouse.targets.snowflake", "SnowflakeTarget"),
}
TARGET_NAMES: tuple[str, ...] = tuple(TARGETS)


class Target(Protocol):
    """A warehouse. Entering it (`with target:`) opens the connection a load writes through."""

    name: str

    def where(self) -> str:
        """For messages: a path, or `account: database.schema`."""
        ...

    def check_settings(self) -> None:
        """A ConfigError naming what the settings lack for this target (no connection made)."""
        ...

    def check_ready(self, tables: list[str]) -> None:
        """Before dbt runs: a StackError when the raw schema lacks any of `tables` (or the
        warehouse does not exist), saying what to run."""
        ...

    def status(self) -> dict | None:
        """What `stack status` shows (tables loaded, watermark, last load), None before the
        first load; never logs in to a remote warehouse."""
        ...

    def __enter__(self) -> Target: ...

    def __exit__(self, *exc: object) -> None: ...

    def watermark(self, table: str) -> datetime | None: ...

    def write(
        self, spec: TableSpec, reader: pa.RecordBatchReader, *, hi: datetime, full_refresh: bool
    ) -> int:
        """Merge the rows into the table, then set its watermark to `hi`; rows written."""
        ...


def target_name(settings: Settings, name: str | None = None) -> str:
    """`name`, else WAREHOUSE_TARGET; a ConfigError for an unknown one."""
    chosen = name or settings.warehouse_target
    if chosen not in TARGETS:
        raise ConfigError(
            f"unknown warehouse target {chosen!r} (choose from {', '.join(TARGET_NAMES)})"
        )
    return chosen


def get_target(settings: Settings, name: str | None = None) -> Target:
    """The target `name` (default WAREHOUSE_TARGET), not yet connected."""
    module, cls = TARGETS[target_name(settings, name)]
    return getattr(importlib.import_module(module), cls)(settings)
