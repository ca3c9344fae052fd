"""Every statement the agent runs is parsed (sqlglot) and checked here first.

Accepted: one statement, a SELECT (or UNION/INTERSECT/EXCEPT of SELECTs, CTEs included) that
reads only tables of the warehouse catalog's allow-list (stack/agent/warehouse.py: dbt's
schemas) and only their columns, and calls no function that reaches outside the database.
Refused, with the reason: anything else (DML anywhere, also inside a CTE; DDL; COPY, ATTACH,
INSTALL/LOAD, PRAGMA, SET, CALL, ...; table functions such as read_csv; files named as
tables; unknown tables and columns). The accepted statement gets a row limit.

The database is read-only as well (warehouse.py): this is the first line, not the only one.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import OptimizeError, ParseError
from sqlglot.optimizer.qualify import qualify

from stack.agent.warehouse import Catalog
from stack.errors import StackError

# sqlglot logs a warning for each statement it falls back to parsing as a Command.
logging.getLogger("sqlglot").setLevel(logging.ERROR)

# Anywhere in the tree: statements that write, change the session or reach outside.
_FORBIDDEN_NODES = tuple(
    getattr(exp, name)
    for name in (
        "Insert", "Update", "Delete", "Merge", "Create", "Drop", "Alter", "TruncateTable",
        "Copy", "Command", "Set", "Pragma", "Use", "Attach", "Detach", "Install", "LoadData",
        "Describe", "Show", "Into", "Transaction", "Commit", "Rollback", "Grant", "Revoke",
        "Cache", "Uncache", "Refresh", "Analyze", "Export", "Put", "Get",
    )
    if hasattr(exp, name)
)  # fmt: skip
# Functions that read files, the environment or other databases, or the engine's settings.
_FORBIDDEN_FUNCTIONS = re.compile(
    r"^(read_\w*|\w*_scan|scan_\w*|glob|getenv|sniff_csv|query|query_table|load_extension|"
    r"duckdb_\w*|pragma_\w*|current_setting|which_secret|system\$\w*|system_\w*|"
    r"parquet_\w*|iceberg_\w*|delta_\w*|sqlite_\w*|postgres_\w*|mysql_\w*|http\w*|"
    r"external_\w*|get_presigned_url|build_\w*_url|get_stage_location|infer_schema|"
    r"generate_series|range|unnest_files|csv_\w*|json_execute_serialized_sql|"
    r"from_json_file|read|copy)$",
    re.IGNORECASE,
)


class Refused(StackError):
    """The guard refused a statement; the message says why (it is fed back to the planner)."""


@dataclass(frozen=True)
class CheckedQuery:
    sql: str  # what runs: the statement with its tables qualified and a row limit
    tables: tuple[str, ...]  # schema.table it reads
    ordered: bool  # the outermost query has an ORDER BY


def _function_name(node: exp.Func) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.this)
    return node.sql_name()


def check(sql: str, catalog: Catalog, *, row_limit: int) -> CheckedQuery:
    """The statement, qualified and limited, or `Refused` with the reason."""
    dialect = catalog.dialect
    text = (sql or "").strip()
    if not text:
        raise Refused("empty statement")
    try:
        statements = [s for s in sqlglot.parse(text, read=dialect) if s is not None]
    except ParseError as error:
        raise Refused(f"the statement does not parse: {str(error).splitlines()[0]}") from None
    if len(statements) != 1:
        raise Refused(f"one statement at a time: this is {len(statements)}")
    tree = statements[0]
    if not isinstance(tree, exp.Select | exp.SetOperation):
        kind = tree.key.upper() if isinstance(tree, exp.Expression) else type(tree).__name__
        raise Refused(f"only SELECT queries may run (read-only): this is {kind}")
    for node in tree.walk():
        if isinstance(node, _FORBIDDEN_NODES):
            raise Refused(
                f"{node.key.upper()} is not allowed: the agent only reads (found in the query)"
            )
        if isinstance(node, exp.Func) and _FORBIDDEN_FUNCTIONS.match(_function_name(node)):
            raise Refused(
                f"function {_function_name(node)}() is not allowed: it reads outside the "
                "warehouse's tables or changes the session"
            )
    tables = _resolve_tables(tree, catalog)
    try:
        qualify(
            tree.copy(),
            schema=catalog.sqlglot_schema(),
            dialect=dialect,
            validate_qualify_columns=True,
            identify=False,
        )
    except OptimizeError as error:
        raise Refused(f"{error} (check the column names against the catalog)") from None
    _limit(tree, row_limit + 1, dialect)
    return CheckedQuery(tree.sql(dialect=dialect), tables, tree.args.get("order") is not None)


def _resolve_tables(tree: exp.Expression, catalog: Catalog) -> tuple[str, ...]:
    """Check each table against the allow-list; qualify the unqualified ones in place."""
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    by_name: dict[str, list[tuple[str, str]]] = {}
    for db, table in catalog.tables:
        by_name.setdefault(table, []).append((db, table))
    used: list[str] = []
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            raise Refused(
                f"table functions are not allowed ({table.this.sql(catalog.dialect)[:60]}): "
                "query the warehouse's tables"
            )
        if table.this.quoted and re.search(r"[./\\:]", table.name):
            raise Refused(f"{table.name!r} looks like a file: only warehouse tables may be read")
        name, db = table.name.lower(), table.db.lower()
        if table.catalog:
            raise Refused(
                f"{table.sql(catalog.dialect)}: name tables as schema.table (no database)"
            )
        if not db and name in ctes:
            continue
        if db:
            if (db, name) not in catalog.tables:
                raise Refused(_unknown_table(f"{db}.{name}", catalog))
            used.append(f"{db}.{name}")
            continue
        candidates = by_name.get(name, [])
        if len(candidates) != 1:
            raise Refused(
                _unknown_table(name, catalog)
                if not candidates
                else f"table {name} is in several schemas ({', '.join(d for d, _ in candidates)}): "
                "qualify it"
            )
        table.set("db", exp.to_identifier(candidates[0][0]))
        used.append(f"{candidates[0][0]}.{name}")
    if not used:
        raise Refused("the query reads no warehouse table")
    return tuple(dict.fromkeys(used))


def _unknown_table(name: str, catalog: Catalog) -> str:
    marts = sorted(f"{db}.{t}" for db, t in catalog.tables if db == "marts")
    return f"unknown table {name}: the agent may read {', '.join(marts)} and the staging models"


def _limit(tree: exp.Expression, cap: int, dialect: str) -> None:
    """At most `cap` rows: an existing LIMIT is kept when smaller."""
    current = tree.args.get("limit")
    if current is not None:
        value = current.expression if isinstance(current, exp.Limit) else None
        if isinstance(value, exp.Literal) and value.is_int and int(value.this) <= cap:
            return
    tree.set("limit", exp.Limit(expression=exp.Literal.number(cap)))
