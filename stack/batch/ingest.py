"""`stack batch ingest`: the incoming directory -> PostgreSQL, idempotent, bad input quarantined.

Each file is one transaction. The manifest (`ingest_files`) makes a rerun skip what it
already loaded and replace, atomically, a file whose bytes changed under the same name.
CSVs are checked in bulk and COPY'd by this process while worker processes parse the PDFs;
this process writes their results. A file that cannot load moves to the rejected directory
with its reason; the run goes on. So does it when the stack itself fails on a file (a bug):
that file's manifest row says `error`, the traceback goes to STACK_HOME/logs, the file stays
where it is, and the run's exit code (4) tells that apart from rejected input (1).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psycopg

from stack.batch import manifest
from stack.batch.csv_ingest import RowReject, copy_rejects, load_csv
from stack.batch.pdf_ingest import write_document
from stack.batch.pdf_parse import FailedPdf, ParsedPdf, PdfLimits
from stack.batch.pdf_workers import Crashed, parse_pdfs, start_parsers_early
from stack.batch.quarantine import quarantine
from stack.batch.reasons import EXIT_OK, EXIT_REJECTS, BadFile, one_line
from stack.batch.schema import ensure_schema
from stack.db import connect
from stack.errors import EXIT_INTERNAL, ServiceError, StackError
from stack.progress import OnEvent, Reporter
from stack.settings import Settings

log = logging.getLogger(__name__)

# The summary lists this many rejected rows; all of them are in `ingest_rejects`.
LISTED_REJECTS = 100
OUTCOMES = ("loaded", "replaced", "skipped", "failed", "error")


@dataclass
class FileResult:
    path: str  # relative to the incoming directory
    kind: str  # csv | statement | invoice | pdf | unknown
    outcome: str  # loaded | replaced | skipped | failed | error
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
    crash_log: str | None = None  # where the tracebacks of `error` files went

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
        was rejected (the rest loaded). 4: the stack failed on some file (an internal error;
        the other files were processed), whatever else happened."""
        if self.count("error"):
            return EXIT_INTERNAL
        return EXIT_REJECTS if self.count("failed") or self.rejected_rows else EXIT_OK

    def to_dict(self) -> dict:
        seconds = max(self.seconds, 1e-9)
        return {
            "incoming_dir": self.incoming_dir,
            "rejected_dir": self.rejected_dir,
            "files": {o: self.count(o) for o in OUTCOMES},
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
            "crash_log": self.crash_log,
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
        self,
        conn: psycopg.Connection,
        rejected: Path,
        summary: IngestSummary,
        report: Reporter,
        crash_log: Path,
    ) -> None:
        self.conn = conn
        self.rejected = rejected
        self.summary = summary
        self.report = report
        self.crash_log = crash_log
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

    def load(
        self, csvs: list[_Incoming], pdfs: list[_Incoming], workers: int, limits: PdfLimits
    ) -> None:
        """PDFs parse in worker processes while this one loads the CSVs, then stores them."""
        with parse_pdfs([(i.path, i.relative) for i in pdfs], workers, limits) as parsed:
            for item in csvs:
                self._start(item)
                self._done(self.guarded(item, "csv", lambda item=item: self.load_csv(item)))
            by_path = {i.relative: i for i in pdfs}
            for relative, result in parsed:
                item = by_path[relative]
                self._start(item)
                self._done(
                    self.guarded(
                        item, "pdf", lambda item=item, result=result: self.store_pdf(item, result)
                    )
                )

    def guarded(self, item: _Incoming, kind: str, work: Callable[[], FileResult]) -> FileResult:
        """`work()`, or, when the stack fails on the file, an `error` result: one bad file
        never stops the others. Losing PostgreSQL (and the user errors of StackError) still
        ends the run."""
        try:
            return work()
        except (psycopg.OperationalError, StackError):
            raise
        except Exception as error:  # a bug, not the file's fault: see the module doc
            return self.crashed(item, kind, error)

    def crashed(self, item: _Incoming, kind: str, error: BaseException) -> FileResult:
        where = _log_crash(self.crash_log, item.relative, error)
        first = one_line((str(error).strip().splitlines() or [""])[0][:300])
        detail = f"{type(error).__name__}{': ' + first if first else ''} ({where})"
        if stays := self._rows_that_stay(item):
            detail += f"; {stays}"
        result = self._not_loaded(
            item, kind, "internal_error", detail, sha256=item.sha256, moved_to=None, status="error"
        )
        self.summary.crash_log = str(self.crash_log)
        self.report.notice(f"internal error on {item.relative}: {detail}")
        return result

    def replacing(self, item: _Incoming) -> bool:
        previous = self.known.get(item.relative)
        return previous is not None and previous.status == "loaded"

    def _rows_that_stay(self, item: _Incoming) -> str:
        """What a version that does not load leaves of the one loaded before it (if any)."""
        if self.replacing(item):
            rows = self.known[item.relative].rows
            return f"the {rows} rows of the version loaded before stay loaded"
        return ""

    def _not_loaded(
        self,
        item: _Incoming,
        kind: str,
        reason: str,
        detail: str,
        *,
        sha256: str,
        moved_to: str | None,
        status: str,
    ) -> FileResult:
        """The manifest row and the result of a version that did not load: `failed` (refused
        input, quarantined) or `error` (the stack failed on it, the file left in place)."""
        with self.conn.transaction():
            manifest.record_failed(
                self.conn,
                path=item.relative,
                sha256=sha256,
                size=item.size,
                kind=kind,
                reason=reason,
                error=f"{reason}: {detail}",
                moved_to=moved_to,
                status=status,
            )
        return FileResult(
            item.relative, kind, status, reason=reason, detail=detail, moved_to=moved_to
        )

    def fail(
        self, item: _Incoming, kind: str, reason: str, detail: str, *, sha256: str | None = None
    ) -> FileResult:
        detail = one_line(detail)
        if stays := self._rows_that_stay(item):
            detail += f" ({stays})"
        sha256 = sha256 or item.sha256
        moved = quarantine(
            item.path, item.relative, self.rejected, sha256=sha256, reason=reason, detail=detail
        )
        return self._not_loaded(
            item, kind, reason, detail, sha256=sha256, moved_to=str(moved), status="failed"
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

    def store_pdf(self, item: _Incoming, parsed: ParsedPdf | FailedPdf | Crashed) -> FileResult:
        if isinstance(parsed, Crashed):  # the parser failed on it (in a worker, or here)
            return self.crashed(item, "pdf", parsed.error)
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


def _log_crash(path: Path, relative: str, error: BaseException) -> str:
    """Append the traceback to the crash log; say where it went (for the one-line detail)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as log_file:
            when = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            log_file.write(f"--- {when} internal error on {relative}\n")
            log_file.write("".join(traceback.format_exception(error)))
    except OSError as failure:
        return f"no traceback kept: cannot write {path}: {failure.strerror}"
    return f"traceback in {path}; the file stays in place and the next run tries it again"


def crash_log(settings: Settings) -> Path:
    """Where the ingest keeps the tracebacks of files it failed on (status `error`)."""
    return settings.stack_home / "logs" / "batch-ingest.log"


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
        start_parsers_early()
    limits = PdfLimits(settings.batch_pdf_max_pages, settings.batch_pdf_timeout_seconds)
    started = time.monotonic()
    summary = IngestSummary(str(incoming), str(rejected))
    report = Reporter("ingest", on_event, log)
    run: _Run | None = None
    with connect(settings, autocommit=True) as conn:
        try:
            manifest.take_lock(conn, report)
            ensure_schema(conn)
            run = _Run(conn, rejected, summary, report, crash_log(settings))
            csvs, pdfs = run.triage(_scan(incoming, rejected))
            run.load(csvs, pdfs, workers, limits)
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
