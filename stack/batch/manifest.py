"""`ingest_files`, the manifest: which version of each file was loaded, or why it failed.
It is what makes a rerun a no-op and a changed file a replacement."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from stack.progress import Reporter

# One ingest at a time per database: a second one waits for the first (then finds its files
# already loaded) instead of racing it.
_LOCK = "SELECT pg_try_advisory_lock(hashtext('stack.batch.ingest'))"
_WAIT = "SELECT pg_advisory_lock(hashtext('stack.batch.ingest'))"


@dataclass(frozen=True)
class Known:
    sha256: str
    status: str
    kind: str
    rows: int


def take_lock(conn: psycopg.Connection, report: Reporter) -> None:
    """Held until the connection closes."""
    if not conn.execute(_LOCK).fetchone()[0]:
        report.notice("another `stack batch ingest` is running on this database: waiting for it")
        conn.execute(_WAIT)


def known_files(conn: psycopg.Connection) -> dict[str, Known]:
    rows = conn.execute("SELECT path, sha256, status, kind, rows FROM ingest_files").fetchall()
    return {path: Known(sha, status, kind, count) for path, sha, status, kind, count in rows}


def record_loading(
    conn: psycopg.Connection, *, path: str, sha256: str, size: int, kind: str
) -> None:
    """The file's row first (its rows point at it), counts once they are known."""
    conn.execute(
        """
        INSERT INTO ingest_files (path, sha256, size_bytes, kind, status)
        VALUES (%s, %s, %s, %s, 'loaded')
        ON CONFLICT (path) DO UPDATE SET
            sha256 = excluded.sha256, size_bytes = excluded.size_bytes, kind = excluded.kind,
            status = 'loaded', rows = 0, rejected_rows = 0, reason = NULL, error = NULL,
            moved_to = NULL, dialect = NULL, ingested_at = clock_timestamp(), updated_at = clock_timestamp()
        """,
        (path, sha256, size, kind),
    )


def record_counts(
    conn: psycopg.Connection,
    path: str,
    *,
    rows: int,
    rejected_rows: int,
    dialect: str | None = None,
) -> None:
    conn.execute(
        "UPDATE ingest_files SET rows = %s, rejected_rows = %s, dialect = %s,"
        " updated_at = clock_timestamp() WHERE path = %s",
        (rows, rejected_rows, dialect, path),
    )


def record_failed(
    conn: psycopg.Connection,
    *,
    path: str,
    sha256: str,
    size: int,
    kind: str,
    reason: str,
    error: str,
    moved_to: str | None,
    status: str = "failed",
) -> None:
    """A version that did not load: `failed` (refused input, quarantined) or `error` (the
    stack failed on it). Rows an earlier, good version of the same path loaded stay (with
    that version's file_sha256): a bad redelivery does not erase data."""
    conn.execute(
        """
        INSERT INTO ingest_files
            (path, sha256, size_bytes, kind, status, reason, error, moved_to)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
        ON CONFLICT (path) DO UPDATE SET
            sha256 = excluded.sha256, size_bytes = excluded.size_bytes, kind = excluded.kind,
            status = excluded.status, reason = excluded.reason, error = excluded.error,
            moved_to = excluded.moved_to, dialect = NULL, ingested_at = clock_timestamp(),
            updated_at = clock_timestamp()
        """,
        (path, sha256, size, kind, status, reason, error, moved_to),
    )
