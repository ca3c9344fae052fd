"""`stack batch ingest`: the incoming directory -> PostgreSQL, idempotent, bad input quarantined.

Each file is one transaction. The manifest (`ingest_files`) makes a rerun skip what it
already loaded and replace, atomically, a file whose bytes changed under the same name.
CSVs are checked in bulk and COPY'd by this process while worker processes parse the PDFs;
this process writes their results. A file that cannot load moves to the rejected directory
with its reason; the run goes on.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import time
from collections import Counter
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from multiprocessing import forkserver
from pathlib import Path

import psycopg

from stack.batch import manifest
from stack.batch.csv_ingest import RowReject, copy_rejects, load_csv
from stack.batch.pdf_ingest import write_document
from stack.batch.pdf_parse import FailedPdf, ParsedPdf, read_pdf
from stack.batch.quarantine import quarantine
from stack.batch.reasons import BadFile, one_line
from stack.batch.schema import ensure_schema
from stack.db import connect
from stack.errors import ServiceError, StackError
from stack.progress import OnEvent, Reporter
from stack.settings import Settings

log = logging.getLogger(__name__)

# The summary lists this many rejected rows; all of them are in `ingest_rejects`.
LISTED_REJECTS = 100


@dataclass
class FileResult:
    path: str  # relative to the incoming directory
    kind: str  # csv | statement | invoice | pdf | unknown
    outcome: str  # loaded | replaced | skipped | failed
    rows: int = 0  # transactions (csv) or line items (pdf)
    rejected_rows: int = 0  # rows + rejected_rows = the CSV's data records
    pages: int = 0
    reason: str | None = None
    detail: str | None = None
    moved_to: str | None = None
    dialect: str | None = None  # a CSV's form: "comma", "semicolon, decimal comma", ...


@dataclass
class IngestSummary:
    incoming_dir: str
    rejected_dir: str
    files: list[FileResult] = field(default_factory=list)
    rejects: list[dict] = field(default_factory=list)  # the first LISTED_REJECTS, file order
    rejects_by_reason: Counter = field(default_factory=Counter)
    seconds: float = 0.0

    def count(self, outcome: str) -> int:
        return sum(f.outcome == outcome for f in self.files)

    def _loaded(self, *kinds: str) -> list[FileResult]:
        return [f for f in self.files if f.outcome in ("loaded", "replaced") and f.kind in kinds]

    @property
    def transactions(self) -> int:
        return sum(f.rows for f in self._loaded("csv"))

    @property
    def documents(self) -> int:
        return len(self._loaded("statement", "invoice"))

    @property
    def line_items(self) -> int:
        return sum(f.rows for f in self._loaded("statement", "invoice"))

    @property
    def pages(self) -> int:
        return sum(f.pages for f in self._loaded("statement", "invoice"))

    @property
    def rejected_rows(self) -> int:
        return sum(self.rejects_by_reason.values())

    @property
    def failed_by_reason(self) -> Counter:
        return Counter(f.reason for f in self.files if f.outcome == "failed")

    @property
    def exit_code(self) -> int:
        """0: every file loaded or skipped, no row rejected. 1: some file failed or some row
        was rejected (the rest loaded)."""
        return 1 if self.count("failed") or self.rejected_rows else 0

    def to_dict(self) -> dict:
        seconds = max(self.seconds, 1e-9)
        return {
            "incoming_dir": self.incoming_dir,
            "rejected_dir": self.rejected_dir,
            "files": {o: self.count(o) for o in ("loaded", "replaced", "skipped", "failed")},
            "failed_by_reason": dict(sorted(self.failed_by_reason.items())),
            "transactions": self.transactions,
            "documents": self.documents,
            "line_items": self.line_items,
            "pages": self.pages,
            "rejected_rows": self.rejected_rows,
            "rejects_by_reason": dict(sorted(self.rejects_by_reason.items())),
            "seconds": round(self.seconds, 3),
            "rows_per_second": round((self.transactions + self.line_items) / seconds),
            "exit_code": self.exit_code,
            "file_results": [asdict(f) for f in self.files],
            "rejects": self.rejects,
        }


@dataclass(frozen=True)
class _Incoming:
    path: Path
    relative: str
    sha256: str
    size: int


def _kind_of(path: Path) -> str:
    return {".csv": "csv", ".pdf": "pdf"}.get(path.suffix.lower(), "unknown")


def _scan(incoming: Path, rejected: Path) -> list[_Incoming]:
    """Every file under `incoming` in name order, except dot-files (partial writes) and the
    rejected directory if it lives inside."""
    found = []
    for path in sorted(incoming.rglob("*")):
        relative = path.relative_to(incoming)
        if (
            not path.is_file()
            or any(part.startswith(".") for part in relative.parts)
            or path.is_relative_to(rejected)
        ):
            continue
        try:
            with path.open("rb") as handle:
                sha256 = hashlib.file_digest(handle, "sha256").hexdigest()
        except OSError as error:
            raise StackError(f"cannot read {path}: {error.strerror}", exit_code=2) from None
        found.append(_Incoming(path, relative.as_posix(), sha256, path.stat().st_size))
    return found


class _Run:
    """One ingest run: the connection, the manifest as it was, and what happened so far."""

    def __init__(
        self, conn: psycopg.Connection, rejected: Path, summary: IngestSummary, report: Reporter
    ) -> None:
        self.conn = conn
        self.rejected = rejected
        self.summary = summary
        self.report = report
        self.current = "the manifest"  # what a lost connection interrupted
        self.known = manifest.known_files(conn)

    def _start(self, item: _Incoming) -> None:
        self.current = item.relative

    def _done(self, result: FileResult) -> None:
        self.summary.files.append(result)
        self.report.item(result.path, result.outcome, done=len(self.summary.files))

    def triage(self, items: list[_Incoming]) -> tuple[list[_Incoming], list[_Incoming]]:
        """Settle what needs no parsing (skipped, empty, duplicate, unknown type); return
        the CSVs and PDFs left to load."""
        self.report.start(total=len(items))
        csvs, pdfs = [], []
        seen = {
            known.sha256: path for path, known in self.known.items() if known.status == "loaded"
        }
        for item in items:
            self._start(item)
            known = self.known.get(item.relative)
            kind = _kind_of(item.path)
            first = seen.get(item.sha256, item.relative)
            if known and known.sha256 == item.sha256 and known.status == "loaded":
                self._done(FileResult(item.relative, known.kind, "skipped"))
            elif item.size == 0:
                self._done(self.fail(item, kind, "empty_file", "zero bytes"))
            elif first != item.relative:
                when = "loaded before" if first in self.known else "earlier in this run"
                self._done(
                    self.fail(item, kind, "duplicate_file", f"the same bytes as {first}, {when}")
                )
            elif kind == "unknown":
                suffix = item.path.suffix or "no extension"
                self._done(
                    self.fail(item, kind, "unknown_file_type", f"{suffix}: only .csv and .pdf load")
                )
            else:
                seen[item.sha256] = item.relative
                (csvs if kind == "csv" else pdfs).append(item)
        return csvs, pdfs

    def load(self, csvs: list[_Incoming], pdfs: list[_Incoming], workers: int) -> None:
        """PDFs parse in worker processes while this one loads the CSVs, then stores them."""
        pool = _pool(min(workers, len(pdfs))) if workers > 1 and len(pdfs) > 1 else None
        try:
            futures: dict[Future, _Incoming] = {}
            if pool:
                futures = {pool.submit(read_pdf, i.path, i.relative): i for i in pdfs}
            for item in csvs:
                self._start(item)
                self._done(self.load_csv(item))
            parsed = (
                ((futures[f], f.result()) for f in as_completed(futures))
                if pool
                else ((i, read_pdf(i.path, i.relative)) for i in pdfs)
            )
            for item, result in parsed:
                self._start(item)
                self._done(self.store_pdf(item, result))
        finally:
            if pool:
                pool.shutdown(cancel_futures=True)

    def replacing(self, item: _Incoming) -> bool:
        previous = self.known.get(item.relative)
        return previous is not None and previous.status == "loaded"

    def fail(
        self, item: _Incoming, kind: str, reason: str, detail: str, *, sha256: str | None = None
    ) -> FileResult:
        detail = one_line(detail)
        previous = self.known.get(item.relative)
        if previous is not None and previous.status == "loaded":
            detail += f" (the {previous.rows} rows of the version loaded before stay loaded)"
        sha256 = sha256 or item.sha256
        moved = quarantine(
            item.path, item.relative, self.rejected, sha256=sha256, reason=reason, detail=detail
        )
        with self.conn.transaction():
            manifest.record_failed(
                self.conn,
                path=item.relative,
                sha256=sha256,
                size=item.size,
                kind=kind,
                reason=reason,
                error=f"{reason}: {detail}",
                moved_to=str(moved),
            )
        return FileResult(
            item.relative, kind, "failed", reason=reason, detail=detail, moved_to=str(moved)
        )

    def load_csv(self, item: _Incoming) -> FileResult:
        data = item.path.read_bytes()
        sha256 = hashlib.sha256(data).hexdigest()  # of the bytes loaded, should the file change
        replacing = self.replacing(item)
        try:
            with self.conn.transaction():
                manifest.record_loading(
                    self.conn, path=item.relative, sha256=sha256, size=len(data), kind="csv"
                )
                if item.relative in self.known:  # an earlier version: its rows go
                    self.conn.execute(
                        "DELETE FROM batch_transactions WHERE source_file = %s", (item.relative,)
                    )
                    self.conn.execute(
                        "DELETE FROM ingest_rejects WHERE file = %s", (item.relative,)
                    )
                loaded = load_csv(self.conn, data, source_file=item.relative, sha256=sha256)
                rows, rejects = loaded.rows, loaded.rejects
                copy_rejects(self.conn, rejects, source_file=item.relative, sha256=sha256)
                manifest.record_counts(
                    self.conn,
                    item.relative,
                    rows=rows,
                    rejected_rows=len(rejects),
                    dialect=loaded.dialect.describe(),
                )
        except BadFile as bad:  # all rolled back: the file as a whole cannot load
            return self.fail(item, "csv", bad.reason, bad.detail, sha256=sha256)
        except psycopg.DataError as error:  # a value the checks let through, PostgreSQL did not
            where = (error.diag.context or "").strip().splitlines()[-1:] or [""]
            return self.fail(
                item,
                "csv",
                "unparseable_csv",
                f"PostgreSQL refused a row: {error.diag.message_primary} {where[0]}",
                sha256=sha256,
            )
        self._note_rejects(item.relative, rejects)
        return FileResult(
            item.relative,
            "csv",
            "replaced" if replacing else "loaded",
            rows=rows,
            rejected_rows=len(rejects),
            dialect=loaded.dialect.describe(),
        )

    def store_pdf(self, item: _Incoming, parsed: ParsedPdf | FailedPdf) -> FileResult:
        if isinstance(parsed, FailedPdf):
            return self.fail(item, "pdf", parsed.reason, parsed.detail, sha256=parsed.sha256)
        replacing = self.replacing(item)
        with self.conn.transaction():
            manifest.record_loading(
                self.conn,
                path=item.relative,
                sha256=parsed.sha256,
                size=parsed.size_bytes,
                kind=parsed.kind,
            )
            write_document(self.conn, parsed)
            manifest.record_counts(
                self.conn, item.relative, rows=len(parsed.lines), rejected_rows=0
            )
        return FileResult(
            item.relative,
            parsed.kind,
            "replaced" if replacing else "loaded",
            rows=len(parsed.lines),
            pages=parsed.page_count,
        )

    def _note_rejects(self, relative: str, rejects: list[RowReject]) -> None:
        self.summary.rejects_by_reason.update(r.reason for r in rejects)
        room = LISTED_REJECTS - len(self.summary.rejects)
        self.summary.rejects += [
            {
                "file": relative,
                "line": r.line,
                "field": r.field,
                "reason": r.reason,
                "detail": r.detail,
            }
            for r in rejects[: max(room, 0)]
        ]


def _parser_context() -> multiprocessing.context.ForkServerContext:
    # forkserver: workers fork from a clean process that has imported the parser once, not
    # from this one (which holds a database connection and library threads). Callers of
    # ingest() therefore need the usual `if __name__ == "__main__":` guard in scripts.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["stack.batch.pdf_parse"])
    return context


def _start_parsers_early() -> None:
    """Start the fork server now: it imports pdfplumber (about half a second) while this
    process connects and scans, so the workers later start in milliseconds."""
    _parser_context()
    forkserver.ensure_running()


def _pool(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=workers, mp_context=_parser_context())


def ingest(
    settings: Settings,
    *,
    incoming_dir: Path | None = None,
    rejected_dir: Path | None = None,
    workers: int | None = None,
    on_event: OnEvent | None = None,
) -> IngestSummary:
    """Load every new or changed file under the incoming directory; see the module doc.
    A `start` event gives the number of files, an `item` event follows each file."""
    incoming = Path(incoming_dir or settings.batch_incoming_dir).absolute()
    rejected = Path(rejected_dir or settings.batch_rejected_dir).absolute()
    if not incoming.is_dir():
        raise StackError(
            f"incoming directory {incoming} does not exist (create files with "
            "`stack batch generate`, or pass --dir)",
            exit_code=2,
        )
    workers = workers or os.cpu_count() or 1
    if workers > 1 and next(incoming.rglob("*.pdf"), None) is not None:
        _start_parsers_early()
    started = time.monotonic()
    summary = IngestSummary(str(incoming), str(rejected))
    report = Reporter("ingest", on_event, log)
    run: _Run | None = None
    with connect(settings, autocommit=True) as conn:
        try:
            manifest.take_lock(conn, report)
            ensure_schema(conn)
            run = _Run(conn, rejected, summary, report)
            csvs, pdfs = run.triage(_scan(incoming, rejected))
            run.load(csvs, pdfs, workers)
        except psycopg.OperationalError as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else "unreachable"
            raise ServiceError(
                f"lost PostgreSQL while ingesting {run.current if run else 'the manifest'}: "
                f"{first} (files loaded so far stay loaded; rerun to continue)"
            ) from None
    summary.files.sort(key=lambda f: f.path)
    summary.seconds = time.monotonic() - started
    report.done(done=len(summary.files))
    return summary
