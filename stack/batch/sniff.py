"""What a file really is, from its first bytes: so a refusal can say "this is a PDF named
.csv" instead of "not UTF-8", and what to do about it."""

from __future__ import annotations

from stack.batch.formats import CSV_COLUMNS

# Readers accept a PDF whose `%PDF-` header comes after a few stray bytes (a byte-order mark,
# a blank line, a mail or HTTP banner), as long as it is within the first kilobyte.
PDF_HEADER = b"%PDF-"
PDF_HEADER_WINDOW = 1024

# (magic bytes, what the file is, what to do with it)
_MAGIC: tuple[tuple[bytes, str, str], ...] = (
    (b"PK\x03\x04", "a ZIP archive (an Excel .xlsx workbook?)", "save it as CSV UTF-8"),
    (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        "an OLE2 file (a legacy Excel .xls workbook?)",
        "save it as CSV UTF-8",
    ),
    (b"\x89PNG\r\n\x1a\n", "a PNG image", "ask for the data as CSV or PDF"),
    (b"\xff\xd8\xff", "a JPEG image", "ask for the data as CSV or PDF"),
    (b"GIF8", "a GIF image", "ask for the data as CSV or PDF"),
    (b"II*\x00", "a TIFF image", "ask for the data as CSV or PDF"),
    (b"MM\x00*", "a TIFF image", "ask for the data as CSV or PDF"),
    (b"\x1f\x8b", "a gzip archive", "unpack it first"),
    (b"{\\rtf", "an RTF document", "ask for the data as CSV or PDF"),
)


def pdf_header_at(data: bytes) -> int:
    """Where `%PDF-` starts within the first kilobyte, or -1."""
    return data.find(PDF_HEADER, 0, PDF_HEADER_WINDOW)


def binary_kind(data: bytes) -> tuple[str, str] | None:
    """(what the file is, what to do) for a PDF or a known binary format, else None."""
    if pdf_header_at(data) >= 0:
        return "a PDF", "rename it to .pdf"
    for magic, kind, advice in _MAGIC:
        if data.startswith(magic):
            return kind, advice
    return None


def describe_not_pdf(data: bytes) -> str:
    """The detail of a `.pdf` that is no PDF: what it is instead."""
    found = binary_kind(data)
    if found:
        return f"is {found[0]}, not a PDF ({found[1].replace('rename it to .pdf', 'rename it')})"
    head = data[:PDF_HEADER_WINDOW]
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError:
        return f"starts with {data[:8]!r}, not {PDF_HEADER.decode()}"
    first = text.lstrip().split("\n", 1)[0].strip()
    names = [name.strip().lower() for name in first.replace(";", ",").split(",")]
    if set(CSV_COLUMNS) <= set(names):
        return "is a CSV (its first line is the statement header), not a PDF: rename it to .csv"
    return f"is text, not a PDF (it starts {first[:40]!r})"
