"""Which lines of a CSV each parsed record came from, so that every line is accounted for.

pyarrow numbers records, not lines (the header is record 1): a quoted value may hold line
breaks (Excel's Alt+Enter, LF or CRLF), so a record spans 1 + the line breaks in its values.
The valid records come in file order and take the numbers the invalid ones (reported to a
handler as pyarrow meets them) left free; a record's first line is 2 + the spans of the
records before it. All of it vectorised: Python only looks at records of more than one line.

A quote that does not close where its line ends swallows the lines after it into one value,
up to the next quote character or to the end of the file. Such a record is refused as
`unclosed_quote`, one reject per line it covers, so the rows it swallowed show in the counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from stack.batch.reasons import BadFile


@dataclass(frozen=True)
class RowReject:
    line: int
    field: str | None
    reason: str
    detail: str
    raw: str


class Source:
    """The file's text (UTF-8 bytes), and its lines by number (only rejects ask)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
        self._ends: np.ndarray | None = None

    def text(self, first: int, count: int = 1) -> str:
        """Lines first .. first + count - 1, as they are in the file (without the last
        line's ending)."""
        if self._ends is None:  # offsets of every newline, found in one vectorised pass
            self._ends = np.flatnonzero(np.frombuffer(self.data, dtype=np.uint8) == 10)
        last = first + count - 1
        start = int(self._ends[first - 2]) + 1 if first >= 2 else 0
        stop = int(self._ends[last - 1]) if last - 1 < len(self._ends) else len(self.data)
        return self.data[start:stop].rstrip(b"\r").decode("utf-8", "replace")

    def reject(self, line: int, problem: list[str], span: int = 1) -> RowReject:
        reason, fld, detail = problem
        return RowReject(line, fld, reason, detail, self.text(line, span))

    def unclosed(self, first: int, span: int, why: str) -> list[RowReject]:
        """One `unclosed_quote` reject per line of the record that starts on `first`."""
        last = first + span - 1
        head = f"a quote in the record that starts on line {first} {why}" + (
            f": lines {first}-{last} read as one record; each is rejected" if span > 1 else ""
        )
        return [
            RowReject(
                line,
                None,
                "unclosed_quote",
                head if line == first else f"inside the quote opened in line {first}'s record",
                self.text(line),
            )
            for line in range(first, last + 1)
        ]


def _line_breaks(batch: pa.RecordBatch) -> np.ndarray | None:
    """Line breaks in each row's values, or None when the block holds none (the usual case:
    one memchr-speed look at each column's bytes)."""
    found = False
    for column in batch.columns:
        data = column.buffers()[2]
        if data is not None and np.any(np.frombuffer(data, dtype=np.uint8) == 10):
            found = True
            break
    if not found:
        return None
    counts = [
        pc.count_substring(column, "\n").to_numpy(zero_copy_only=False) for column in batch.columns
    ]
    return np.sum(counts, axis=0)


def _swallows_rows(values: dict[str, str], delimiters: int, delimiter: str) -> bool:
    """A value whose later lines each look like a whole row: a quote left open swallowed
    them (a real line break inside a cell does not hold a row's worth of delimiters)."""
    for value in values.values():
        if "\n" in value and any(
            line.count(delimiter) >= delimiters for line in value.split("\n")[1:]
        ):
            return True
    return False


class Records:
    """Record numbers -> first lines, block by block; see the module doc."""

    def __init__(self, source: Source, width: int, delimiter: str) -> None:
        self.source = source
        self.width = width  # the header's number of columns
        self.delimiter = delimiter
        size = source.lines + 2
        self.taken = np.zeros(size, dtype=bool)  # record numbers of invalid records
        self.taken[:2] = True  # no record 0; record 1 is the header
        self.span = np.ones(size, dtype=np.int64)
        self.cursor = 2  # the next record number
        self.line = 2  # the first line of record `cursor`
        self.invalid: list[tuple[int, pacsv.InvalidRow]] = []
        self.multiline: dict[int, int] = {}  # first line -> span, of records of 2+ lines
        self.rejects: list[RowReject] = []  # swallowing records and invalid ones

    def on_invalid(self, row: pacsv.InvalidRow) -> str:
        """pyarrow's invalid_row_handler: note the record, skip it."""
        if row.number >= len(self.taken):
            raise BadFile(
                "unparseable_csv",
                f"more records were parsed than the file has lines ({row.number})",
            )
        text = row.text[:-1] if row.text.endswith("\n") else row.text
        self.taken[row.number] = True
        self.span[row.number] = text.rstrip("\r").count("\n") + 1
        self.invalid.append((row.number, row))
        return "skip"

    def place(self, batch: pa.RecordBatch) -> pa.Table:
        """The block with a `line` column (each record's first line), minus the records that
        a quote left open swallowed (their lines become rejects)."""
        table = pa.Table.from_batches([batch])
        rows = batch.num_rows
        if not rows:
            return table.append_column("line", pa.array([], type=pa.int32()))
        numbers = np.flatnonzero(~self.taken[self.cursor :])[:rows] + self.cursor
        if len(numbers) < rows:
            raise BadFile(
                "unparseable_csv",
                f"more rows were parsed than the file has lines (line {self.line})",
            )
        breaks = _line_breaks(batch)
        if breaks is not None:
            self.span[numbers] = breaks + 1
        segment = self.span[self.cursor : numbers[-1] + 1]
        starts = self.line + np.concatenate(([0], np.cumsum(segment[:-1])))
        first_lines = starts[numbers - self.cursor]
        self.line = int(starts[-1] + segment[-1])
        self.cursor = int(numbers[-1]) + 1
        table = table.append_column("line", pa.array(first_lines, type=pa.int32()))
        if breaks is None:
            return table
        return self._drop_swallowing(table, np.flatnonzero(breaks), first_lines, breaks + 1)

    def _drop_swallowing(
        self, table: pa.Table, multi: np.ndarray, first_lines: np.ndarray, spans: np.ndarray
    ) -> pa.Table:
        keep = np.ones(table.num_rows, dtype=bool)
        values = table.drop_columns(["line"]).take(pa.array(multi)).to_pylist()
        for index, row in zip(multi, values, strict=True):
            first, span = int(first_lines[index]), int(spans[index])
            self.multiline[first] = span
            if _swallows_rows(row, self.width - 1, self.delimiter):
                keep[index] = False
                last = first + span - 1
                self.rejects += self.source.unclosed(first, span, f"only closes on line {last}")
        return table if keep.all() else table.filter(pa.array(keep))

    def finish(self) -> list[RowReject]:
        """After the last block: the invalid records as rejects; every line accounted for."""
        rest = self.taken[self.cursor :]  # invalid records after the last valid one
        trailing = len(rest) if rest.all() else int(np.argmin(rest))
        self.line += int(self.span[self.cursor : self.cursor + trailing].sum())
        if self.line - 1 != self.source.lines:
            raise BadFile(
                "unparseable_csv",
                f"line {min(self.line, self.source.lines)} was not parsed as a row",
            )
        ends = np.cumsum(self.span)  # record r starts on line 2 + ends[r - 1] - ends[1]
        rejects = list(self.rejects)
        for number, row in self.invalid:
            first = 2 + int(ends[number - 1] - ends[1])
            span = int(self.span[number])
            if row.text.count('"') % 2:
                rejects += self.source.unclosed(first, span, "is never closed")
            elif span > 1:
                rejects += self.source.unclosed(
                    first,
                    span,
                    f"only closes on line {first + span - 1} "
                    f"({row.actual_columns} fields, the header has {row.expected_columns})",
                )
            else:
                rejects.append(
                    RowReject(
                        first,
                        None,
                        "wrong_column_count",
                        f"{row.actual_columns} fields, the header has {row.expected_columns}",
                        self.source.text(first),
                    )
                )
        return rejects
