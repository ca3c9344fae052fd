"""The offline planner on a warehouse it was not written on (seed 11, months 2025-02..04):
its answers equal SQL written by hand, for values and months read from the data."""

from __future__ import annotations

import pytest

from stack.agent.eval import compare, unordered_keys
from stack.agent.graph import Agent
from tests.agent.conftest import INJECTED_PATH


@pytest.fixture(scope="module")
def offline(agent_settings, session):
    return Agent(agent_settings, model="offline", session=session)


def check_answer(offline, warehouse_rows, question, gold, ordered=False):
    answer = offline.ask(question)
    assert answer.status == "answered", answer.text
    assert answer.queries, answer.text
    assert compare(answer.queries[-1].rows, warehouse_rows(gold), ordered=ordered) == (True, True)
    return answer


def test_spend_by_category_in_a_month_of_the_data(offline, warehouse_rows):
    answer = check_answer(
        offline,
        warehouse_rows,
        "Spend by category in April 2025",
        "SELECT category_group, currency_code, sum(spend_amount) FROM marts.fct_transactions "
        "WHERE transaction_date BETWEEN '2025-04-01' AND '2025-04-30' GROUP BY 1, 2",
    )
    assert "April 2025" in answer.text and answer.queries[0].tool == "metric_query"


def test_filters_on_values_found_in_the_warehouse(offline, warehouse_rows):
    category, currency = warehouse_rows(
        "SELECT category_group, currency_code FROM marts.fct_transactions WHERE is_spend "
        "GROUP BY 1, 2 ORDER BY count(*) DESC LIMIT 1"
    )[0]
    check_answer(
        offline,
        warehouse_rows,
        f"total spend on {category} in {currency}",
        f"SELECT sum(spend_amount) FROM marts.fct_transactions WHERE category_group = '{category}' "
        f"AND currency_code = '{currency}'",
    )
    merchant = warehouse_rows(
        "SELECT merchant_name FROM marts.dim_merchants ORDER BY transactions DESC, merchant_name LIMIT 1"
    )[0][0]
    check_answer(
        offline,
        warehouse_rows,
        f"How many transactions at {merchant} by source?",
        f"SELECT source, count(*) FROM marts.fct_transactions WHERE merchant_name = "
        f"'{merchant.replace(chr(39), chr(39) * 2)}' GROUP BY 1",
    )


def test_top_n_and_time_grains(offline, warehouse_rows):
    check_answer(
        offline,
        warehouse_rows,
        "top 3 categories by number of transactions in Q2 2025",
        "SELECT category_group, count(*) AS n FROM marts.fct_transactions WHERE transaction_date "
        "BETWEEN '2025-04-01' AND '2025-06-30' GROUP BY 1 ORDER BY n DESC LIMIT 3",
        ordered=True,
    )
    check_answer(
        offline,
        warehouse_rows,
        "monthly transactions",
        "SELECT date_trunc('month', transaction_date), count(*) FROM marts.fct_transactions "
        "GROUP BY 1 ORDER BY 1",
        ordered=True,
    )
    check_answer(
        offline,
        warehouse_rows,
        "dead letters by reason",
        "SELECT reason, count(*) FROM staging.stg_realtime__dead_letters GROUP BY 1",
    )


def test_a_ranking_breaks_ties_by_what_it_ranks(offline, warehouse_rows):
    # Dead letters cycle through their reasons: the first reasons tie for the most. Unbroken,
    # `ORDER BY dead_letters DESC LIMIT 1` picks one of them as DuckDB's threads happen to run.
    tied = warehouse_rows(
        "SELECT reason FROM staging.stg_realtime__dead_letters GROUP BY reason "
        "QUALIFY count(*) = max(count(*)) OVER ()"
    )
    assert len(tied) > 1

    answer = check_answer(
        offline,
        warehouse_rows,
        "Which reason has the most dead letters?",
        "SELECT reason, count(*) AS n FROM staging.stg_realtime__dead_letters GROUP BY reason "
        "ORDER BY n DESC, reason LIMIT 1",
        ordered=True,
    )
    assert unordered_keys(answer.queries[-1].sql) == []


def test_document_searches_use_the_index_with_filters(offline, warehouse_rows):
    answer = offline.ask("Find the invoices from April 2025")

    expected = {
        row[0]
        for row in warehouse_rows(
            "SELECT file_path FROM marts.mart_documents WHERE document_kind = 'invoice' "
            "AND issued_on BETWEEN '2025-04-01' AND '2025-04-30'"
        )
    }
    assert answer.status == "answered" and answer.queries == []
    assert {d.file for d in answer.documents} == expected and INJECTED_PATH in expected
    assert all(d.page >= 1 for d in answer.documents)


def test_it_refuses_writes_and_says_when_a_model_is_needed(offline):
    refused = offline.ask("Delete every dead letter")
    needs = offline.ask("Why did spend drop in April?")
    nothing = offline.ask("Tell me a joke")

    assert refused.status == "refused" and "only reads" in refused.text
    assert needs.status == "needs_model" and "AGENT_MODEL" in needs.text
    assert nothing.status == "needs_model"
    assert not (refused.queries or needs.queries or nothing.queries)


def test_sql_runs_through_the_guard(offline):
    answer = offline.ask("SELECT count(*) AS merchants FROM marts.dim_merchants")
    refused = offline.ask("SELECT * FROM read_csv('/etc/passwd')")

    assert answer.status == "answered" and answer.queries[0].columns == ["merchants"]
    assert refused.status == "error" and "not allowed" in refused.refusals[0]
