"""CSV rows keep their line numbers through block-by-block parsing, on the fast path (bad
rows only) and on the careful path (a duplicate id sends the file there)."""

from __future__ import annotations

import csv

import pytest

from stack.batch import csv_ingest
from stack.batch.generate import csv_bytes
from stack.batch.ingest import ingest
from stack.batch.monthly import transactions
from stack.batch.pools import build_pools
from tests.batch.helpers import batch_settings
from tests.helpers import query


def _replace(line: str, column: int, value: str) -> str:
    fields = next(csv.reader([line]))
    fields[column] = value
    return ",".join(f'"{f}"' if "," in f else f for f in fields)


@pytest.mark.parametrize("duplicate", [False, True], ids=["fast-path", "careful-path"])
def test_line_numbers_survive_blocks_and_bad_rows(settings, tmp_path, monkeypatch, duplicate):
    monkeypatch.setattr(csv_ingest, "BLOCK_SIZE", 2048)  # ~20 rows a block: many blocks
    lines = csv_bytes(transactions(build_pools(3), 3, "2025-05", 400)).decode().splitlines()
    bad = {  # 1-based line number -> reason
        37: "bad_date",
        150: "wrong_column_count",
        222: "unknown_currency",
        399: "bad_amount",
    }
    lines[36] = _replace(lines[36], 2, "2025-05-32")
    lines[149] = lines[149].rsplit(",", 2)[0]
    lines[150] = ""  # a blank line: skipped, neither loaded nor rejected
    lines[221] = _replace(lines[221], 7, "EURO")
    lines[398] = _replace(lines[398], 6, "12.5.0")
    if duplicate:
        lines[300] = _replace(lines[300], 0, next(csv.reader([lines[4]]))[0])
        bad[301] = "duplicate_id"
    configured = batch_settings(settings, tmp_path)
    folder = configured.batch_incoming_dir / "2025-05"
    folder.mkdir(parents=True)
    (folder / "transactions_2025-05.csv").write_text("\n".join(lines) + "\n")

    summary = ingest(configured)

    assert summary.count("loaded") == 1
    rejects = query(configured, "SELECT line, reason, raw FROM ingest_rejects ORDER BY line")
    assert [(line, reason) for line, reason, _ in rejects] == sorted(bad.items())
    assert [raw for _, _, raw in rejects] == [lines[line - 1] for line in sorted(bad)]
    loaded = dict(query(configured, "SELECT source_line, transaction_id FROM batch_transactions"))
    expected = {
        number: next(csv.reader([text]))[0]
        for number, text in enumerate(lines, 1)
        if number > 1 and number not in bad and text
    }
    assert loaded == expected
    assert summary.transactions == len(expected) == 401 - len(bad) - 1 - 1


def test_excel_style_csv_loads(settings, tmp_path):
    # A byte-order mark, Windows line endings, columns in another order, padded values.
    header = "amount,currency,transaction_id,account_id,posted_date,description,merchant,category"
    rows = [
        ' -12.50 ,EUR,TX-1,ACC-1,2025-03-01,"Lunch, with team",Cafe Kane,restaurants',
        "1200.00, USD ,TX-2,ACC-2, 2025-03-02 ,SALARY MARCH,Kane Ltd,salary",
    ]
    configured = batch_settings(settings, tmp_path)
    folder = configured.batch_incoming_dir
    folder.mkdir(parents=True)
    (folder / "export.csv").write_bytes(b"\xef\xbb\xbf" + "\r\n".join([header, *rows, ""]).encode())

    summary = ingest(configured)

    assert summary.exit_code == 0, summary.to_dict()
    assert query(
        configured,
        "SELECT transaction_id, account_id, posted_date::text, description, amount::text,"
        " currency, source_line FROM batch_transactions ORDER BY 1",
    ) == [
        ("TX-1", "ACC-1", "2025-03-01", "Lunch, with team", "-12.50", "EUR", 2),
        ("TX-2", "ACC-2", "2025-03-02", "SALARY MARCH", "1200.00", "USD", 3),
    ]
