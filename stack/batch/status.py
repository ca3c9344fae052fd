"""What `stack status` says about the batch pipeline: files, rows, rejects, last run."""

from __future__ import annotations

from stack.db import connect
from stack.settings import Settings


def batch_section(settings: Settings) -> tuple[str, dict] | None:
    """None until the first ingest has created the tables."""
    with connect(settings) as conn:
        if conn.execute("SELECT to_regclass('ingest_files')").fetchone()[0] is None:
            return None
        files_loaded, files_failed, last = conn.execute(
            "SELECT count(*) FILTER (WHERE status = 'loaded'),"
            " count(*) FILTER (WHERE status = 'failed'), max(ingested_at) FROM ingest_files"
        ).fetchone()
        transactions, documents, line_items, rejects = conn.execute(
            "SELECT (SELECT count(*) FROM batch_transactions), (SELECT count(*) FROM documents),"
            " (SELECT count(*) FROM document_line_items), (SELECT count(*) FROM ingest_rejects)"
        ).fetchone()
    return "batch", {
        "files_loaded": files_loaded,
        "files_failed": files_failed,
        "transactions": transactions,
        "documents": documents,
        "line_items": line_items,
        "rejected_rows": rejects,
        "last_ingest": last.isoformat(timespec="seconds") if last else None,
    }
