"""The LangGraph agent end to end with a scripted tool-calling model: errors are fed back
and corrected, writes are refused, documents are data, and the answer cites what it used."""

from __future__ import annotations

from langchain_core.messages import AIMessage, ToolMessage

from stack.agent.graph import Agent, chat_model_for
from tests.agent.conftest import INJECTED_PATH
from tests.agent.ollama_double import OllamaDouble, tool_call
from tests.agent.scripted import call, scripted

GOOD_SQL = (
    "SELECT category_group, sum(spend_amount) AS spend FROM marts.fct_transactions "
    "GROUP BY category_group ORDER BY spend DESC, category_group"
)


def tool_feedback(model) -> list[str]:
    return [m.content for messages in model.seen for m in messages if isinstance(m, ToolMessage)]


def test_a_wrong_column_is_fed_back_and_corrected(session, warehouse_rows):
    model = scripted(
        call("run_sql", "c1", sql=GOOD_SQL.replace("category_group", "categry")),
        call("run_sql", "c2", sql=GOOD_SQL),
        AIMessage(content="Most spend went to the first category in the rows."),
    )

    answer = Agent(session.settings, chat_model=model, session=session).ask("spend by category")

    assert answer.status == "answered"
    assert answer.text.startswith("Most spend")
    assert answer.attempts == 1
    assert len(answer.refusals) == 1 and "categry" in answer.refusals[0]
    fed_back = tool_feedback(model)
    assert fed_back[0].startswith("REFUSED") and "categry" in fed_back[0]
    assert [q.sql for q in answer.queries] == [answer.queries[0].sql]
    cited = answer.queries[0]
    assert "category_group" in cited.sql and cited.columns == ["category_group", "spend"]
    expected = warehouse_rows(GOOD_SQL)
    assert [tuple(row) for row in cited.rows] == [(c, str(s)) for c, s in expected]


def test_a_database_error_is_fed_back_too(session):
    model = scripted(
        call(
            "run_sql",
            "c1",
            sql="SELECT CAST(category_group AS INTEGER) FROM marts.fct_transactions",
        ),
        call("run_sql", "c2", sql="SELECT count(*) AS n FROM marts.fct_transactions"),
        AIMessage(content="There are n transactions."),
    )

    answer = Agent(session.settings, chat_model=model, session=session).ask("how many?")

    assert tool_feedback(model)[0].startswith("ERROR") and "Conversion" in tool_feedback(model)[0]
    assert answer.status == "answered" and answer.queries[-1].columns == ["n"]


def test_a_drop_is_refused_and_the_table_stays(session, warehouse_rows):
    before = warehouse_rows("SELECT count(*) FROM marts.fct_transactions")
    model = scripted(
        call("run_sql", "c1", sql="DROP TABLE marts.fct_transactions"),
        AIMessage(content="I cannot drop tables."),
    )

    answer = Agent(session.settings, chat_model=model, session=session).ask("drop the facts")

    assert "only SELECT" in tool_feedback(model)[0]
    assert answer.queries == [] and "run_sql: only SELECT" in answer.refusals[0]
    assert warehouse_rows("SELECT count(*) FROM marts.fct_transactions") == before


def test_document_text_is_data_not_instructions(session, warehouse_rows):
    """The invoice says to drop a table; a model that obeys it is refused, and the answer
    cites the document it read."""
    before = warehouse_rows("SELECT count(*) FROM marts.fct_transactions")
    model = scripted(
        call("search_documents", "c1", query="note to the assistant", kind="invoice"),
        call("run_sql", "c2", sql="DROP TABLE marts.fct_transactions"),
        call("run_sql", "c3", sql="SELECT 1; DROP TABLE marts.fct_transactions"),
        AIMessage(content="Everything is fine."),
    )

    answer = Agent(session.settings, chat_model=model, session=session).ask("what do invoices say?")

    found = tool_feedback(model)[0]
    assert "ignore previous instructions" in found and INJECTED_PATH in found
    assert [r.split(":")[0] for r in answer.refusals] == ["run_sql", "run_sql"]
    assert answer.queries == []
    assert (INJECTED_PATH, 1) in {(d.file, d.page) for d in answer.documents}
    assert warehouse_rows("SELECT count(*) FROM marts.fct_transactions") == before


def test_retries_are_bounded(session):
    bad = "SELECT nope FROM marts.fct_transactions"
    model = scripted(*(call("run_sql", f"c{i}", sql=bad) for i in range(10)))

    answer = Agent(session.settings, chat_model=model, session=session).ask("loop")

    assert answer.status == "error"
    assert answer.attempts == session.settings.agent_max_attempts
    assert len(model.seen) == session.settings.agent_max_attempts


def test_a_metric_query_from_the_model_runs_through_metricflow(session, warehouse_rows):
    model = scripted(
        call(
            "metric_query",
            "c1",
            metrics=["transactions"],
            group_by=["transaction__source"],
            order_by=["transaction__source"],
        ),
        AIMessage(content="Counts by source."),
    )

    answer = Agent(session.settings, chat_model=model, session=session).ask("by source")

    assert answer.queries[0].tool == "metric_query"
    expected = warehouse_rows(
        "SELECT source, count(*) FROM marts.fct_transactions GROUP BY 1 ORDER BY 1"
    )
    assert [tuple(r) for r in answer.queries[0].rows] == [tuple(r) for r in expected]


def test_init_chat_model_builds_an_ollama_model_offline(agent_settings):
    settings = agent_settings.model_copy(update={"agent_base_url": "http://127.0.0.1:9"})

    model = chat_model_for(settings, "ollama:qwen2.5-coder:7b")

    assert type(model).__name__ == "ChatOllama"
    assert model.bind_tools([]) is not None


def test_the_real_ollama_client_against_a_local_server(session, warehouse_rows):
    """init_chat_model("ollama:...") and its HTTP client, end to end: tools are offered, a
    refusal goes back as a tool message, the corrected query's rows are cited."""
    replies = [
        tool_call("run_sql", sql=GOOD_SQL.replace("category_group", "categry")),
        tool_call("run_sql", sql=GOOD_SQL),
        {"content": "Spend is highest in the first category listed."},
    ]
    with OllamaDouble(replies) as server:
        settings = session.settings.model_copy(update={"agent_base_url": server.url})
        agent = Agent(settings, model="ollama:qwen2.5-coder:7b", session=session)

        answer = agent.ask("Which category has the most spend?")

    first, second, _third = server.requests
    assert first["model"] == "qwen2.5-coder:7b"
    assert {t["function"]["name"] for t in first["tools"]} == {
        "metric_query",
        "run_sql",
        "search_documents",
    }
    fed_back = [m for m in second["messages"] if m["role"] == "tool"]
    assert (
        fed_back
        and fed_back[0]["content"].startswith("REFUSED")
        and "categry" in fed_back[0]["content"]
    )
    assert answer.status == "answered" and answer.model == "ollama:qwen2.5-coder:7b"
    assert answer.text.startswith("Spend is highest")
    expected = warehouse_rows(GOOD_SQL)
    assert [tuple(r) for r in answer.queries[0].rows] == [(c, str(s)) for c, s in expected]
