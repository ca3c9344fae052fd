"""A statement CSV's form, found before any row is parsed: its encoding, its header (names
matched whatever their case and surrounding spaces, in any order, Excel's trailing empty
columns allowed), its delimiter and its decimal mark. Anything else about the whole file that
stops it loading is a BadFile naming the line and what to do."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from stack.batch.formats import CSV_COLUMNS
from stack.batch.reasons import BadFile
from stack.batch.sniff import binary_kind

_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_NOT_BLANK = re.compile(rb"\S")
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab"}
# How much of a semicolon- or tab-delimited file is read to find its decimal mark.
_DECIMAL_SAMPLE = 256 << 10


@dataclass(frozen=True)
class Dialect:
    delimiter: str = ","
    decimal_comma: bool = False  # "-12,50"; then "." groups thousands ("1.234,50")
    utf16: bool = False  # the file was UTF-16 (with a byte-order mark), read as UTF-8
    columns: tuple[str, ...] = CSV_COLUMNS  # in file order; "" for an empty trailing column

    @property
    def names(self) -> list[str]:
        """pyarrow's column names: an empty trailing column gets a placeholder."""
        return [name or f"_blank_{i}" for i, name in enumerate(self.columns, 1)]

    @property
    def blanks(self) -> tuple[tuple[int, str], ...]:
        """(position, placeholder) of each empty trailing column: they must stay empty."""
        return tuple((i, f"_blank_{i}") for i, name in enumerate(self.columns, 1) if not name)

    def describe(self) -> str:
        """What `ingest_files.dialect` records: 'comma', 'semicolon, decimal comma', ..."""
        parts = [DELIMITERS[self.delimiter]]
        if self.decimal_comma:
            parts.append("decimal comma")
        if self.utf16:
            parts.append("utf-16")
        return ", ".join(parts)


def _utf8(data: bytes) -> tuple[bytes, bool]:
    """The file as UTF-8 without a byte-order mark, and whether it was UTF-16."""
    if data.startswith(_UTF16_BOMS):
        try:
            return data.decode("utf-16").encode("utf-8"), True
        except UnicodeDecodeError as error:
            raise BadFile(
                "not_utf8",
                f"a UTF-16 byte-order mark, but byte {error.start} is not UTF-16 "
                "(save the file as CSV UTF-8)",
            ) from None
    if data.startswith(_BOM):  # Excel writes one; it is not part of the first column's name
        data = data[len(_BOM) :]
    return data, False


def check_text(data: bytes) -> tuple[bytes, Dialect]:
    """Whole-file checks, one fast pass each: what the file is, encoding, line endings,
    header, any rows. Returns the text as UTF-8 bytes (what the rows are parsed from and the
    rejects quote) and its dialect."""
    found = binary_kind(data)
    if found:
        raise BadFile("not_a_csv", f"is {found[0]}, not a CSV: {found[1]}")
    data, utf16 = _utf8(data)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise BadFile(
            "not_utf8",
            f"line {line}: byte 0x{data[error.start]:02x} is not UTF-8 (save the file as UTF-8)",
        ) from None
    if (nul := data.find(b"\x00")) >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise BadFile("not_utf8", f"line {line}: a NUL byte: binary data, not text")
    if data.count(b"\r") != data.count(b"\r\n"):
        bare = re.search(rb"\r(?!\n)", data).start()  # type: ignore[union-attr]
        line = data.count(b"\n", 0, bare) + 1
        raise BadFile(
            "bad_line_endings",
            f"line {line}: a carriage return without a line feed "
            "(save with Unix or Windows line endings)",
        )
    if not _NOT_BLANK.search(data):
        raise BadFile("empty_csv", "only blank lines, not even a header")
    end = data.find(b"\n")
    dialect = _header(data[: end if end >= 0 else len(data)].rstrip(b"\r").decode(), utf16)
    if end < 0 or not _NOT_BLANK.search(data, end):
        raise BadFile("empty_csv", "a header and no rows")
    if dialect.delimiter != ",":
        dialect = Dialect(dialect.delimiter, _decimal_comma(data, dialect), utf16, dialect.columns)
    return data, dialect


def _header_problems(names: list[str]) -> list[str]:
    problems = []
    missing = [c for c in CSV_COLUMNS if c not in names]
    extra = [n for n in names if n and n not in CSV_COLUMNS]
    if missing:
        problems.append(f"missing {','.join(missing)}")
    if extra:
        problems.append(f"unexpected {','.join(extra)}")
    if "" in names:
        problems.append(f"column {names.index('') + 1} has no name")
    repeated = sorted({n for n in names if n and names.count(n) > 1})
    if repeated:
        problems.append(f"repeated {','.join(repeated)}")
    return problems


def _header(line: str, utf16: bool) -> Dialect:
    """The dialect whose delimiter splits the header into the statement columns."""
    best: tuple[int, str, list[str]] | None = None
    for delimiter in DELIMITERS:
        names = [name.strip().lower() for name in next(csv.reader([line], delimiter=delimiter))]
        trailing = len(names)
        while trailing and not names[trailing - 1]:  # Excel's empty columns at the end
            trailing -= 1
        problems = _header_problems(names[:trailing])
        if not problems:
            return Dialect(delimiter, utf16=utf16, columns=tuple(names))
        matched = len(set(names) & set(CSV_COLUMNS))
        if best is None or matched > best[0]:
            best = (matched, delimiter, problems)
    assert best is not None
    _, delimiter, problems = best
    read_as = f" (read with delimiter {delimiter!r})" if delimiter != "," else ""
    raise BadFile(
        "wrong_header",
        f"line 1: expected columns {','.join(CSV_COLUMNS)}; {'; '.join(problems)}{read_as}",
    )


def _decimal_comma(data: bytes, dialect: Dialect) -> bool:
    """Whether the amounts use a decimal comma: any amount in the file's first rows holds
    a comma (a semicolon- or tab-delimited file needs no quotes around one)."""
    sample = data[: data.rfind(b"\n", 0, _DECIMAL_SAMPLE) + 1] or data
    try:
        table = pacsv.read_csv(
            pa.BufferReader(sample),
            read_options=pacsv.ReadOptions(column_names=dialect.names, skip_rows=1),
            parse_options=pacsv.ParseOptions(
                delimiter=dialect.delimiter,
                newlines_in_values=True,
                invalid_row_handler=lambda _: "skip",
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={"amount": pa.string()}, include_columns=["amount"]
            ),
        )
    except pa.ArrowInvalid:  # the sample cut a quoted value: the rows will say what is wrong
        return False
    return bool(pc.any(pc.match_substring(table["amount"], ",")).as_py())
