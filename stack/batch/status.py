"""What `stack status` says about the batch pipeline: files, rows, rejects, last run."""

from __future__ import annotations

from stack.db import connect
from stack.settings import Settings
from stack.tables import row_counts, tables_of

# How `stack status` names each table's row count.
_SHOWN_AS = {
    "batch_transactions": "transactions",
    "documents": "documents",
    "document_line_items": "line_items",
    "ingest_rejects": "rejected_rows",
}


def batch_section(settings: Settings) -> tuple[str, dict] | None:
    """None until the first ingest has created the tables."""
    with connect(settings) as conn:
        if conn.execute("SELECT to_regclass('ingest_files')").fetchone()[0] is None:
            return None
        files_loaded, files_failed, files_error, last = conn.execute(
            "SELECT count(*) FILTER (WHERE status = 'loaded'),"
            " count(*) FILTER (WHERE status = 'failed'), count(*) FILTER (WHERE status = 'error'),"
            " max(ingested_at) FROM ingest_files"
        ).fetchone()
        counts = row_counts(conn, tables_of("batch"))
    return "batch", {
        "files_loaded": files_loaded,
        "files_failed": files_failed,
        "files_error": files_error,  # the stack failed on them: see STACK_HOME/logs
        **{shown: counts.get(table, 0) for table, shown in _SHOWN_AS.items()},
        "last_ingest": last.isoformat(timespec="seconds") if last else None,
    }
