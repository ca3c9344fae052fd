"""The eval: gold SQL scores 1.0, a broken query 0, and the offline planner is scored on a
warehouse from another seed and months than the question set was written on."""

from __future__ import annotations

import pytest

from stack.agent.eval import compare, evaluate, load_questions
from stack.agent.graph import Answer, DocumentCitation, QueryCitation
from stack.agent.guard import check
from stack.errors import StackError


def test_the_question_set_has_forty_questions_of_every_kind():
    questions = load_questions()

    assert len(questions) >= 40
    kinds = {q.category for q in questions}
    assert {"metric", "filter", "date", "document", "refusal"} <= kinds


def test_a_gold_query_whose_order_leaves_ties_is_refused(tmp_path):
    path = tmp_path / "questions.yaml"
    ranked = "SELECT reason, count(*) AS n FROM staging.stg_realtime__dead_letters GROUP BY reason"
    path.write_text(
        f"- id: monthly\n  question: q\n  gold_sql: SELECT date_trunc('month', d) AS m, "
        "count(*) FROM t GROUP BY 1 ORDER BY m\n"
        f"- id: broken-tie\n  question: q\n  gold_sql: {ranked} ORDER BY n DESC, 1 LIMIT 1\n"
    )
    assert [q.id for q in load_questions(path)] == ["monthly", "broken-tie"]

    path.write_text(f"- id: tie\n  question: q\n  gold_sql: {ranked} ORDER BY n DESC LIMIT 1\n")
    with pytest.raises(StackError, match=r"questions.yaml: item 1 \(tie\): .* not by reason"):
        load_questions(path)


def test_comparison_is_set_and_multiset_with_order_only_when_asked():
    assert compare([(1, "a"), (2, "b")], [("b", 2), ("a", 1)], ordered=False) == (True, True)
    assert compare([(1, "a"), (1, "a")], [(1, "a")], ordered=False) == (True, False)
    assert compare([(2,), (1,)], [(1,), (2,)], ordered=True) == (False, False)
    assert compare([("1.005",)], [(1.0049,)], ordered=False) == (True, True)
    assert compare([(1, 2)], [(1,)], ordered=False) == (False, False)


def _gold_predictor(session, questions):
    by_text = {q.question: q for q in questions}

    def predict(text: str) -> Answer:
        question = by_text[text]
        if question.refuse:
            return Answer(text, "refused", "no", "gold")
        checked = check(question.gold_sql, session.catalog, row_limit=100_000)
        result = session.warehouse.run(checked.sql, limit=100_000, timeout=60).to_dict()
        if question.category == "document":
            files = [DocumentCitation(row[0], 1, "", "", 0.0) for row in result["rows"]]
            return Answer(text, "answered", "", "gold", documents=files)
        citation = QueryCitation(
            result["sql"], result["columns"], result["rows"], result["row_count"], False, "run_sql"
        )
        return Answer(text, "answered", "", "gold", queries=[citation])

    return predict


def test_gold_sql_scores_one(agent_settings, session):
    questions = load_questions()

    report = evaluate(
        agent_settings, questions=questions, predict=_gold_predictor(session, questions)
    )

    assert (report.set_accuracy, report.multiset_accuracy, report.validity) == (1.0, 1.0, 1.0)


def test_a_broken_query_scores_zero(agent_settings, session):
    def broken(text: str) -> Answer:
        answer = Answer(text, "error", "", "broken")
        answer.refusals.append("run_sql: Column 'nope' could not be resolved")
        return answer

    report = evaluate(agent_settings, questions=load_questions(), predict=broken)

    assert (report.set_accuracy, report.multiset_accuracy, report.validity) == (0.0, 0.0, 0.0)


def test_the_offline_planner_on_another_seed(agent_settings):
    report = evaluate(agent_settings, model="offline")

    assert report.model == "offline" and report.questions >= 40
    misses = [s.id for s in report.scores if not s.multiset_match]
    assert report.multiset_accuracy >= 0.85, misses
    assert report.by_category["refusal"]["multiset_accuracy"] == 1.0
    assert report.latency_p95 < 5
