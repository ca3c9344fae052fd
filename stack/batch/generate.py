"""`stack batch generate`: a finance team's monthly files, synthetic and reproducible.

Per month, into `<out>/YYYY-MM/`: `transactions_YYYY-MM.csv` and `--pdfs-per-month` PDFs,
account statements and invoices alternating. Same seed, same bytes.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from stack.batch import bad_files, monthly, pdf_render
from stack.batch.formats import CSV_COLUMNS
from stack.batch.pools import build_pools
from stack.errors import StackError
from stack.progress import OnEvent, Reporter
from stack.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_MONTHS = "2025-01:2025-06"


@dataclass
class GenerateSummary:
    out_dir: str
    months: list[str]
    seed: int
    csv_files: int = 0
    transactions: int = 0
    statements: int = 0
    invoices: int = 0
    line_items: int = 0
    bad_files: dict[str, str] = field(default_factory=dict)  # relative path -> expected reason
    bytes: int = 0
    seconds: float = 0.0

    @property
    def files(self) -> int:
        return self.csv_files + self.statements + self.invoices + len(self.bad_files)

    def to_dict(self) -> dict:
        return {**asdict(self), "files": self.files}


def csv_bytes(rows: list[tuple[str, ...]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(rows)
    return buffer.getvalue().encode()


def _write(path: Path, data: bytes) -> int:
    # Write beside, then rename: an ingest running meanwhile never sees half a file
    # (it skips dot-files).
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return len(data)


def generate(
    settings: Settings | None = None,
    *,
    out_dir: Path | None = None,
    months: str | list[str] = DEFAULT_MONTHS,
    rows_per_month: int = 2000,
    pdfs_per_month: int = 6,
    seed: int = 42,
    with_bad: bool = False,
    on_event: OnEvent | None = None,
) -> GenerateSummary:
    """Write the monthly files; return what was written (counts the tests compare with).
    A `progress` event follows each file."""
    if out_dir is None:
        if settings is None:
            raise StackError("generate: give settings or out_dir", exit_code=2)
        out_dir = settings.batch_incoming_dir
    month_list = monthly.parse_months(months) if isinstance(months, str) else sorted(months)
    if rows_per_month < 1:
        raise StackError("--rows-per-month must be at least 1", exit_code=2)
    if pdfs_per_month < 0:
        raise StackError("--pdfs-per-month must be 0 or more", exit_code=2)
    started = time.monotonic()
    summary = GenerateSummary(out_dir=str(out_dir), months=month_list, seed=seed)
    pools = build_pools(seed)
    total = len(month_list) * (1 + pdfs_per_month) + (1 if with_bad else 0)
    report = Reporter("generate", on_event, log)
    report.start(total=total)
    written = 0

    def wrote(what: str) -> None:
        nonlocal written
        written += 1
        report.progress(written, item=what, total=total)

    for month in month_list:
        folder = out_dir / month
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StackError(f"cannot create {folder}: {error.strerror}", exit_code=2) from None
        rows = monthly.transactions(pools, seed, month, rows_per_month)
        data = csv_bytes(rows)
        summary.bytes += _write(folder / f"transactions_{month}.csv", data)
        summary.csv_files += 1
        summary.transactions += len(rows)
        wrote(f"{month} csv")
        for index, doc in enumerate(monthly.documents(pools, seed, month, pdfs_per_month)):
            number = index // 2 + 1
            if isinstance(doc, monthly.Statement):
                pdf, name = pdf_render.render_statement(doc), f"statement_{month}_{number:03d}"
                summary.statements += 1
            else:
                pdf, name = pdf_render.render_invoice(doc), f"invoice_{month}_{number:03d}"
                summary.invoices += 1
            summary.line_items += len(doc.lines)
            summary.bytes += _write(folder / f"{name}.pdf", pdf)
            wrote(f"{month} pdfs")
        if with_bad and month == month_list[0]:
            for name, blob in bad_files.bad_files(pools, seed, month, data, rows[0][0]).items():
                summary.bytes += _write(folder / name, blob)
                reason = bad_files.BAD_FILES.get(name.replace(month, "{month}"))
                if reason:
                    summary.bad_files[f"{month}/{name}"] = reason
                else:  # the CSV with bad rows: it loads, minus its bad rows
                    summary.csv_files += 1
                    summary.transactions += sum(r is None for r in bad_files.BAD_ROWS.values())
            wrote(f"{month} known-bad files")
    summary.seconds = round(time.monotonic() - started, 3)
    report.done(done=summary.files)
    return summary
