"""Incremental loads PostgreSQL -> warehouse (DuckDB or Snowflake); see run.load()."""

from stack.warehouse.load.run import LoadSummary, TableLoad, load

__all__ = ["LoadSummary", "TableLoad", "load"]
