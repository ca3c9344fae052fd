"""What `stack status` says about the warehouse: where, last load, watermark, marts."""

from __future__ import annotations

import duckdb

from stack.settings import Settings


def warehouse_section(settings: Settings) -> tuple[str, dict] | None:
    """None until a first load has created the DuckDB warehouse. Snowflake is only named:
    a status check should not log in to a remote warehouse."""
    if settings.warehouse_target == "snowflake":
        return "warehouse", {
            "target": "snowflake",
            "account": settings.snowflake_account,
            "database": settings.snowflake_database,
        }
    path = settings.warehouse_duckdb_path
    if not path.exists():
        return None
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.IOException:  # a load or a dbt build holds the file right now
        return "warehouse", {"target": "duckdb", "path": str(path), "state": "busy"}
    try:
        tables = {
            row[0]
            for row in con.execute(
                "SELECT schema_name || '.' || table_name FROM duckdb_tables()"
            ).fetchall()
        }
        tables_loaded, watermark, last_load = (None, None, None)
        if "raw._load_state" in tables:
            tables_loaded, watermark, last_load = con.execute(
                "SELECT count(*), min(cursor_value), max(loaded_at) FROM raw._load_state"
            ).fetchall()[0]
        transactions = None
        if "marts.fct_transactions" in tables:
            transactions = con.execute("SELECT count(*) FROM marts.fct_transactions").fetchall()[0][
                0
            ]
    finally:
        con.close()
    return "warehouse", {
        "target": "duckdb",
        "path": str(path),
        "tables_loaded": tables_loaded or 0,
        "watermark": watermark.isoformat(timespec="seconds") if watermark else None,
        "last_load": last_load.isoformat(timespec="seconds") if last_load else None,
        "fct_transactions": transactions,
    }
