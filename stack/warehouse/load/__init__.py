"""Incremental loads PostgreSQL -> warehouse (DuckDB or Snowflake); see run.load()."""

from stack.warehouse.load.run import TARGETS, LoadEvent, LoadSummary, TableLoad, load
from stack.warehouse.load.sources import SOURCE_NAMES, SOURCE_TABLES

__all__ = [
    "SOURCE_NAMES",
    "SOURCE_TABLES",
    "TARGETS",
    "LoadEvent",
    "LoadSummary",
    "TableLoad",
    "load",
]
