"""The batch pipeline's written contract, checked without services: the settings'
defaults are the values .env.example documents, and docs/batch.md lists every reason code
(reasons.py, the one list) and every exit code."""

from __future__ import annotations

import re

import pytest

from stack.batch.reasons import ERROR_REASONS, EXIT_CODES, FILE_REASONS, ROW_REASONS
from stack.settings import PROJECT_ROOT, Settings

DOCS = (PROJECT_ROOT / "docs" / "batch.md").read_text()


def test_the_env_example_values_are_the_settings_defaults(monkeypatch):
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    documented = Settings(_env_file=PROJECT_ROOT / ".env.example")
    defaults = Settings(_env_file=None)
    differ = {
        name.upper(): (getattr(documented, name), getattr(defaults, name))
        for name in Settings.model_fields
        if getattr(documented, name) != getattr(defaults, name)
    }
    assert differ == {}
    assert (defaults.batch_pdf_max_pages, defaults.batch_pdf_timeout_seconds) == (100, 60)


def _table_codes(heading: str) -> set[str]:
    """The codes in the first column of the table under `heading` in docs/batch.md."""
    section = DOCS.split(heading, 1)[1]
    table = re.search(r"\n(\|.*\|\n)+", section)
    assert table, heading
    return set(re.findall(r"^\| `([a-z0-9_]+)` \|", table[0], re.MULTILINE))


@pytest.mark.parametrize(
    ("heading", "codes"),
    [
        ("A whole file (", FILE_REASONS),
        ("A CSV row (", ROW_REASONS),
        ("The stack failed on a file (", ERROR_REASONS),
    ],
    ids=["file", "row", "error"],
)
def test_the_docs_list_every_reason(heading, codes):
    assert _table_codes(heading) == set(codes)


def test_the_docs_list_every_exit_code():
    section = DOCS.split("### Exit codes", 1)[1].split("\n#", 1)[0]
    assert {int(code) for code in re.findall(r"^\| (\d+) \|", section, re.MULTILINE)} == set(
        EXIT_CODES
    )
