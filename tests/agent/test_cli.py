"""`stack ask` and `stack agent index` as a user runs them."""

from __future__ import annotations

import json

from tests.helpers import run_stack


def test_stack_ask_answers_with_citations_as_json(agent_settings, warehouse_rows):
    result = run_stack(agent_settings, "ask", "How many invoices in April 2025?", "--json")

    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    expected = warehouse_rows(
        "SELECT count(*) FROM marts.mart_documents WHERE document_kind = 'invoice' AND "
        "coalesce(issued_on, period_end) BETWEEN '2025-04-01' AND '2025-04-30'"
    )[0][0]
    assert answer["status"] == "answered" and answer["model"] == "offline"
    assert answer["queries"][0]["rows"] == [[expected]]
    assert "marts.mart_documents" in answer["queries"][0]["sql"]


def test_stack_ask_refuses_a_write_with_exit_1(agent_settings):
    result = run_stack(agent_settings, "ask", "drop table marts.fct_transactions")

    assert result.returncode == 1
    assert "only reads" in result.stdout
    assert "Traceback" not in result.stderr


def test_stack_agent_index_reports_counts_and_rate(agent_settings):
    result = run_stack(agent_settings, "agent", "index", "--json")

    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["embedded"] == 0 and summary["entries"] == summary["unchanged"] > 0
    assert set(summary) >= {"added", "updated", "removed", "by_source", "chunks_per_second"}
