"""CSVs as other tools write them: lenient about form (headers, quoted newlines, Excel's
trailing column, accounting negatives, semicolons and decimal commas, UTF-16), strict about
meaning, and every line accounted for (loaded + rejected = the file's data records)."""

from __future__ import annotations

import csv
from decimal import Decimal

import pytest

from stack.batch import csv_ingest
from stack.batch.formats import CSV_COLUMNS
from tests.batch.files import csv_text, ingest_files, result_of, rows
from tests.helpers import query


def _loaded(settings) -> dict[int, tuple]:
    return {
        line: rest
        for line, *rest in query(
            settings,
            "SELECT source_line, transaction_id, description, amount"
            " FROM batch_transactions ORDER BY 1",
        )
    }


def _rejects(settings) -> list[tuple]:
    return query(settings, "SELECT line, reason, detail, raw FROM ingest_rejects ORDER BY line")


@pytest.mark.parametrize(
    "header",
    [
        ", ".join(CSV_COLUMNS),  # a space after each comma (a pyarrow traceback before)
        ", ".join(f"  {n.upper()} " if i % 2 else n.title() for i, n in enumerate(CSV_COLUMNS)),
    ],
    ids=["space-after-comma", "padded-other-case"],
)
def test_header_names_match_whatever_their_case_and_surrounding_spaces(settings, tmp_path, header):
    text = header + "\n" + csv_text(rows(50)).split("\n", 1)[1]

    configured, summary = ingest_files(settings, tmp_path, {"padded.csv": text})

    assert summary.exit_code == 0, summary.to_dict()
    assert (summary.count("loaded"), summary.transactions) == (1, 50)
    assert query(configured, "SELECT count(*) FROM batch_transactions") == [(50,)]


def test_trailing_empty_columns_are_ignored_but_not_their_values(settings, tmp_path):
    data = [[*row, "", ""] for row in rows(20)]
    data[9][-1] = "a stray value"  # line 11: a value under no header
    text = csv_text(data, header=[*CSV_COLUMNS, "", ""], newline="\r\n")

    configured, summary = ingest_files(settings, tmp_path, {"excel.csv": text})

    assert (summary.count("loaded"), summary.transactions, summary.rejected_rows) == (1, 19, 1)
    ((line, reason, detail, _),) = _rejects(configured)
    assert (line, reason) == (11, "wrong_column_count")
    assert "no header" in detail


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["LF", "CRLF"])
def test_quoted_newlines_load_and_keep_their_lines(settings, tmp_path, monkeypatch, newline):
    monkeypatch.setattr(csv_ingest, "BLOCK_SIZE", 2048)  # records cross block boundaries
    data = rows(300)
    for index in range(3, 300, 7):  # Excel's Alt+Enter: a line break inside a cell
        data[index][3] = f"{data[index][3]}{newline}second line{newline}third"
    data[150][6] = "twelve"  # line numbers stay right after multi-line records
    configured, summary = ingest_files(
        settings, tmp_path, {"multi.csv": csv_text(data, newline=newline)}
    )

    assert (summary.count("loaded"), summary.transactions, summary.rejected_rows) == (1, 299, 1)
    start, expected = 2, {}
    for row in data:
        expected[start] = row
        start += 1 + row[3].count("\n")
    loaded = _loaded(configured)
    assert set(loaded) | {line for line, *_ in _rejects(configured)} == set(expected)
    for line, (tid, description, _) in loaded.items():
        assert (tid, description) == (expected[line][0], expected[line][3])
    ((line, reason, _, raw),) = _rejects(configured)
    assert (line, reason) == (list(expected)[150], "bad_amount")
    assert next(csv.reader([raw])) == data[150]


def _plain_rows(count: int) -> list[list[str]]:
    """Rows with no quote at all (no commas in any field)."""
    return [[field.replace(",", "") for field in row] for row in rows(count)]


def test_an_unclosed_quote_is_reported_with_its_lines_and_counted(settings, tmp_path):
    data = _plain_rows(999)
    data[499][3] = "CARD PAYMENT Acme"
    lines = csv_text(data).splitlines()
    lines[500] = lines[500].replace(",CARD", ',"CARD', 1)
    assert lines[500].count('"') == 1  # line 501 opens a quote that never closes
    configured, summary = ingest_files(
        settings, tmp_path, {"unclosed.csv": "\n".join(lines) + "\n"}
    )

    result = result_of(summary, "unclosed.csv")
    assert (result.outcome, result.rows, result.rejected_rows) == ("loaded", 499, 500)
    assert result.rows + result.rejected_rows == 999  # every data line accounted for
    rejects = _rejects(configured)
    assert [line for line, *_ in rejects] == list(range(501, 1001))
    assert {reason for _, reason, _, _ in rejects} == {"unclosed_quote"}
    first = rejects[0][2]
    assert "501" in first and "1000" in first and "never closed" in first
    assert [raw for *_, raw in rejects] == lines[500:]
    assert query(
        configured, "SELECT rows, rejected_rows FROM ingest_files WHERE path = 'unclosed.csv'"
    ) == [(499, 500)]
    assert summary.rejects_by_reason["unclosed_quote"] == 500


def test_a_quote_closed_by_a_later_line_rejects_the_lines_it_swallowed(settings, tmp_path):
    data = _plain_rows(400)
    data[299][4] = "Smith, Jones and Co"  # line 301: a quoted merchant closes line 201's quote
    data[199][3] = "CARD PAYMENT Acme"
    lines = csv_text(data).splitlines()
    lines[200] = lines[200].replace(",CARD", ',"CARD', 1)
    configured, summary = ingest_files(settings, tmp_path, {"swallow.csv": "\n".join(lines)})

    result = result_of(summary, "swallow.csv")
    assert (result.rows, result.rejected_rows) == (299, 101)
    rejects = _rejects(configured)
    assert [line for line, *_ in rejects] == list(range(201, 302))
    assert {reason for _, reason, _, _ in rejects} == {"unclosed_quote"}
    assert "201" in rejects[0][2] and "301" in rejects[0][2]
    assert set(_loaded(configured)) == set(range(2, 201)) | set(range(302, 402))


def test_accounting_negatives_and_thousands_separators(settings, tmp_path):
    amounts = {  # as written -> as loaded (None: rejected as bad_amount)
        "(12.50)": Decimal("-12.50"),
        "1,234.50": Decimal("1234.50"),
        "(1,234.50)": Decimal("-1234.50"),
        "+7.00": Decimal("7.00"),
        " ( 3.10 ) ": Decimal("-3.10"),
        "12,34.50": None,
        "(-5.00)": None,
        "1,234.567": None,
        "1,2345.00": None,
    }
    data = rows(len(amounts))
    for row, amount in zip(data, amounts, strict=True):
        row[6] = amount
    configured, summary = ingest_files(settings, tmp_path, {"accounting.csv": csv_text(data)})

    loaded = {tid: amount for tid, _, amount in _loaded(configured).values()}
    assert loaded == {
        row[0]: value for row, value in zip(data, amounts.values(), strict=True) if value
    }
    assert [reason for _, reason, _, _ in _rejects(configured)] == ["bad_amount"] * 4
    assert summary.rejected_rows == 4


def test_semicolons_and_decimal_commas_are_detected_and_recorded(settings, tmp_path):
    european = rows(30)
    for row, amount in zip(european, ["-12,50", "1.234,50", "-3", "0,5"] * 8, strict=False):
        row[6] = amount
    dotted = rows(10, month="2025-06")
    configured, summary = ingest_files(
        settings,
        tmp_path,
        {
            "de.csv": csv_text(european, delimiter=";", newline="\r\n"),
            "semicolon.csv": csv_text(dotted, delimiter=";"),
            "plain.csv": csv_text(rows(5, month="2025-07")),
        },
    )

    assert summary.exit_code == 0, summary.to_dict()
    assert query(configured, "SELECT path, dialect FROM ingest_files ORDER BY 1") == [
        ("de.csv", "semicolon, decimal comma"),
        ("plain.csv", "comma"),
        ("semicolon.csv", "semicolon"),
    ]
    assert result_of(summary, "de.csv").dialect == "semicolon, decimal comma"
    amounts = dict(
        query(
            configured,
            "SELECT source_line, amount FROM batch_transactions WHERE"
            " source_file = 'de.csv' AND source_line <= 5",
        )
    )
    assert amounts == {
        2: Decimal("-12.50"),
        3: Decimal("1234.50"),
        4: Decimal("-3.00"),
        5: Decimal("0.50"),
    }


def test_a_wrong_header_names_the_delimiter_it_was_read_with(settings, tmp_path):
    text = csv_text(rows(3), header=["id", *CSV_COLUMNS[1:]], delimiter=";")
    _, summary = ingest_files(settings, tmp_path, {"wrong.csv": text})
    result = result_of(summary, "wrong.csv")
    assert result.reason == "wrong_header"
    assert "missing transaction_id" in result.detail and "unexpected id" in result.detail
    assert "';'" in result.detail


def test_utf16_with_a_byte_order_mark_loads(settings, tmp_path):
    data = rows(12)
    data[0][3] = "CARD PAYMENT Café Müller"
    configured, summary = ingest_files(
        settings, tmp_path, {"unicode.csv": csv_text(data, newline="\r\n").encode("utf-16")}
    )
    assert summary.exit_code == 0, summary.to_dict()
    assert result_of(summary, "unicode.csv").dialect == "comma, utf-16"
    assert _loaded(configured)[2][1] == "CARD PAYMENT Café Müller"


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n%%EOF\n", ["a PDF", "rename it to .pdf"]),
        (b"PK\x03\x04" + bytes(200), ["ZIP", "xlsx", "CSV UTF-8"]),
        (b"\x89PNG\r\n\x1a\n" + bytes(100), ["PNG image"]),
    ],
    ids=["pdf", "xlsx", "png"],
)
def test_a_csv_that_is_another_kind_of_file_says_what_it_is(settings, tmp_path, content, words):
    _, summary = ingest_files(settings, tmp_path, {"export.csv": content})
    result = result_of(summary, "export.csv")
    assert result.reason == "not_a_csv", result
    for word in words:
        assert word in result.detail


def test_a_quote_left_open_on_the_first_row_swallows_every_block(settings, tmp_path, monkeypatch):
    monkeypatch.setattr(csv_ingest, "BLOCK_SIZE", 2048)  # the open quote straddles blocks
    data = _plain_rows(300)
    data[0][3] = "CARD PAYMENT Acme"
    lines = csv_text(data).splitlines()
    lines[1] = lines[1].replace(",CARD", ',"CARD', 1)
    configured, summary = ingest_files(settings, tmp_path, {"open.csv": "\n".join(lines)})

    result = result_of(summary, "open.csv")
    assert (result.outcome, result.rows, result.rejected_rows) == ("loaded", 0, 300)
    assert summary.rejects_by_reason == {"unclosed_quote": 300}
    assert query(configured, "SELECT min(line), max(line) FROM ingest_rejects") == [(2, 301)]
