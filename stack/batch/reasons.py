"""Why a file or a row did not load: stable reason codes (scripts and tests match on them),
the exception that carries one, and the ingest's exit codes. docs/batch.md lists them all
(a test checks it)."""

from __future__ import annotations

# A whole file is refused: `ingest_files.status = 'failed'`, the file moves to the rejected
# directory with `<name>.reason.txt` beside it.
FILE_REASONS: dict[str, str] = {
    "empty_file": "the file is zero bytes long",
    "unknown_file_type": "neither .csv nor .pdf",
    "duplicate_file": "the same bytes were already loaded under another name",
    "not_a_csv": "a .csv that is another kind of file (a PDF, a workbook, an image)",
    "not_utf8": "a CSV that is not UTF-8 (or UTF-16 with a byte-order mark) text",
    "bad_line_endings": "a CSV with bare carriage returns (old Mac line endings)",
    "empty_csv": "a CSV with a header and no rows",
    "wrong_header": "a CSV whose header is not the statement columns",
    "unparseable_csv": "a CSV whose rows cannot be matched to its lines",
    "not_a_pdf": "a .pdf that does not start with %PDF-",
    "corrupt_pdf": "a PDF that is truncated or cannot be parsed",
    "encrypted_pdf": "a PDF that needs a password",
    "too_many_pages": "a PDF with more pages than BATCH_PDF_MAX_PAGES",
    "time_limit": "a PDF that took longer than BATCH_PDF_TIMEOUT_SECONDS to parse",
    "no_text_layer": "a PDF whose first page has no text (a scanned image): it needs OCR",
    "unrecognised_document": "a PDF that is neither an account statement nor an invoice",
    "incomplete_document": "a statement or invoice missing a field or its line-item table",
    "bad_line_item": "a line-item cell that is not a date, quantity or amount, or a quantity"
    " numeric(12,3) cannot hold exactly",
    "amount_out_of_range": "a balance, total or line amount that does not fit numeric(12,2)",
    "impossible_dates": "a statement period that ends before it starts, an invoice due before"
    " it was issued",
    "totals_mismatch": "the line items do not add up to the totals the document states",
}

# One CSV row is refused: a row in `ingest_rejects`; the file's other rows load.
ROW_REASONS: dict[str, str] = {
    "wrong_column_count": "more or fewer fields than the header, or a value under no header",
    "unclosed_quote": "a quote that does not close where its line ends: each line it swallows"
    " is rejected",
    "missing_field": "an empty transaction_id, account_id, posted_date, amount or currency",
    "bad_date": "posted_date is not a real YYYY-MM-DD date",
    "bad_amount": "amount is not a number with at most 2 decimals",
    "amount_out_of_range": "amount does not fit numeric(12,2)",
    "unknown_currency": "currency is not an ISO 4217 code the stack knows",
    "duplicate_id": "transaction_id already appears on an earlier line of the same file",
    "duplicate_id_other_file": "transaction_id was already loaded from another file",
}


# Not the file's fault: the stack failed on it (a bug). `ingest_files.status = 'error'`, the
# file stays in the incoming directory (a rerun tries it again), the traceback goes to
# STACK_HOME/logs/batch-ingest.log.
ERROR_REASONS: dict[str, str] = {
    "internal_error": "an unexpected error while processing the file (the log has the traceback)",
}

# `stack batch ingest`'s exit codes (IngestSummary.exit_code gives 0, 1 or 4).
EXIT_CODES: dict[int, str] = {
    0: "every file loaded, replaced or skipped; no row rejected",
    1: "the run finished, but some file failed or some row was rejected",
    2: "usage or configuration error",
    3: "PostgreSQL unreachable, or lost during the run",
    4: "an internal error on some file (status error; the other files were processed)",
    130: "interrupted",
}
EXIT_OK, EXIT_REJECTS = 0, 1


def one_line(text: str) -> str:
    """`text` fit for a manifest row and a terminal line: control characters (a NUL, a line
    break quoted from a damaged file) shown as escapes."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class BadFile(Exception):
    """The file cannot be loaded, for `reason` (a FILE_REASONS key); `detail` says where."""

    def __init__(self, reason: str, detail: str) -> None:
        assert reason in FILE_REASONS, reason
        detail = one_line(detail)
        super().__init__(reason, detail)
        self.reason = reason
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}"
