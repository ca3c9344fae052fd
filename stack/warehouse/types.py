"""PostgreSQL column types and their exact counterparts in DuckDB and Snowflake.

Each column travels in three steps: PostgreSQL sends it over Arrow (ADBC) in a "wire" form,
DuckDB casts it to the warehouse type, and (for Snowflake) DuckDB writes it to Parquet, which
`COPY INTO` reads by column name. NUMERIC is sent as text (ADBC has no exact Arrow form for
it) and cast to DECIMAL(p,s), so money stays exact end to end.

Types without an exact counterpart (unconstrained or wider than 38-digit NUMERIC, intervals,
arrays, ranges, enums, network types, ...) travel as PostgreSQL's own text form into VARCHAR:
nothing is rounded, and dbt can parse them.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

_MAX_DECIMAL_PRECISION = 38  # both DuckDB and Snowflake

# typname -> (DuckDB type as duckdb_columns() spells it, Snowflake type)
_EXACT: dict[str, tuple[str, str]] = {
    "int2": ("SMALLINT", "SMALLINT"),
    "int4": ("INTEGER", "INTEGER"),
    "int8": ("BIGINT", "BIGINT"),
    "float4": ("FLOAT", "FLOAT"),
    "float8": ("DOUBLE", "FLOAT"),
    "bool": ("BOOLEAN", "BOOLEAN"),
    "text": ("VARCHAR", "VARCHAR"),
    "varchar": ("VARCHAR", "VARCHAR"),
    "bpchar": ("VARCHAR", "VARCHAR"),
    "name": ("VARCHAR", "VARCHAR"),
    "date": ("DATE", "DATE"),
    "time": ("TIME", "TIME"),
    "timestamp": ("TIMESTAMP", "TIMESTAMP_NTZ"),
    "timestamptz": ("TIMESTAMP WITH TIME ZONE", "TIMESTAMP_TZ"),
    "uuid": ("UUID", "VARCHAR(36)"),
    "bytea": ("BLOB", "BINARY"),
}
# Sent as text, typed on arrival.
_AS_TEXT: dict[str, tuple[str, str]] = {
    "json": ("JSON", "VARCHAR"),
    "jsonb": ("JSON", "VARCHAR"),
}


@dataclass(frozen=True)
class Column:
    name: str
    pg_base: str  # pg_type.typname: int4, numeric, timestamptz, _text, ...
    pg_type: str  # format_type(): numeric(12,2), timestamp with time zone, ...
    precision: int | None = None
    scale: int | None = None
    nullable: bool = True

    @property
    def _exact_decimal(self) -> bool:
        return (
            self.pg_base == "numeric"
            and self.precision is not None
            and self.precision <= _MAX_DECIMAL_PRECISION
        )

    @property
    def sent_as_text(self) -> bool:
        return self.pg_base == "numeric" or self.pg_base not in _EXACT

    @property
    def duckdb_type(self) -> str:
        if self._exact_decimal:
            return f"DECIMAL({self.precision},{self.scale or 0})"
        if self.pg_base in _EXACT:
            return _EXACT[self.pg_base][0]
        return _AS_TEXT.get(self.pg_base, ("VARCHAR", "VARCHAR"))[0]

    @property
    def snowflake_type(self) -> str:
        if self._exact_decimal:
            return f"NUMBER({self.precision},{self.scale or 0})"
        if self.pg_base in _EXACT:
            return _EXACT[self.pg_base][1]
        return _AS_TEXT.get(self.pg_base, ("VARCHAR", "VARCHAR"))[1]

    @property
    def parquet_duckdb_type(self) -> str:
        """The DuckDB type written to Parquet for Snowflake's COPY INTO (no UUID or JSON)."""
        if self.snowflake_type.startswith("VARCHAR"):
            return "VARCHAR"
        return self.duckdb_type

    def wire_sql(self) -> sql.Composable:
        """The PostgreSQL select-list item that sends this column over ADBC."""
        ident = sql.Identifier(self.name)
        if self.sent_as_text:
            return sql.SQL("{}::text AS {}").format(ident, ident)
        return ident


@dataclass(frozen=True)
class TableSpec:
    """A source table as PostgreSQL's catalog describes it right now (load/sources.py)."""

    name: str
    cursor: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)


def duckdb_ident(name: str) -> str:
    """A quoted DuckDB identifier."""
    return '"' + name.replace('"', '""') + '"'


def snowflake_ident(name: str) -> str:
    """A Snowflake identifier: upper case, unquoted when it is a plain word (so dbt sources and
    people can write it unquoted), quoted otherwise."""
    upper = name.upper()
    if upper.replace("_", "").isalnum() and upper.isascii() and not upper[0].isdigit():
        return upper
    return '"' + name.replace('"', '""') + '"'
