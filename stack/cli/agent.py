"""`stack ask` and `stack agent index|chat|eval|grants`: the agent (README: Agent).

Exit codes of `stack ask`: 0 answered; 1 refused, needs a model, or no query could run (the
reason is printed); 2 configuration; 3 a service (Snowflake, a model server) unreachable.
"""

from __future__ import annotations

from enum import StrEnum

import typer
from rich.markup import escape
from rich.table import Table

from stack.cli import app, get_settings
from stack.cli.console import err, out, print_json

agent = typer.Typer(
    name="agent",
    help="The agent's index, a chat, its evaluation and its read-only role.",
    no_args_is_help=True,
)
app.add_typer(agent)


class TargetChoice(StrEnum):
    duckdb = "duckdb"
    snowflake = "snowflake"


MODEL_HELP = (
    "provider:model for init_chat_model (ollama:qwen2.5-coder:7b, openai:..., anthropic:...); "
    "'offline' for the planner without a model. Default: AGENT_MODEL."
)


def _require_extra() -> None:
    try:
        import chromadb  # noqa: F401
        import langgraph  # noqa: F401
    except ImportError:
        from stack.errors import StackError

        raise StackError("the agent needs the `agent` extra: pip install 'stack[agent]'") from None


def _print_answer(answer, *, show_sql: bool) -> None:
    colour = {"answered": "green", "error": "red"}.get(answer.status, "yellow")
    for notice in answer.notices:
        err.print(f"[yellow]{escape(notice)}[/]", soft_wrap=True)
    out.print(escape(answer.text or "(no answer)"), soft_wrap=True)
    for number, query in enumerate(answer.queries, 1):
        if show_sql:
            err.print(f"[dim]-- query {number} ({query.tool}):[/]")
            err.print(escape(query.sql), highlight=False, soft_wrap=True)
        if query.rows and (show_sql or len(query.rows) > 10):
            table = Table(
                title=f"query {number}: {query.row_count} row(s)"
                + (" (truncated)" if query.truncated else "")
            )
            for column in query.columns:
                table.add_column(str(column))
            for row in query.rows[:50]:
                table.add_row(*("" if v is None else str(v) for v in row))
            out.print(table)
    for document in answer.documents:
        out.print(
            f"  [cyan]{escape(document.file)}[/] page {document.page}: {escape(document.snippet[:100])}"
        )
    for refusal in answer.refusals:
        err.print(f"[yellow]refused or failed:[/] {escape(refusal)}", soft_wrap=True)
    err.print(
        f"[{colour}]{answer.status}[/] by {answer.model} in {answer.seconds:.2f} s"
        f" ({len(answer.queries)} query(ies), {len(answer.documents)} document(s) cited)",
        highlight=False,
    )


@app.command()
def ask(
    question: str = typer.Argument(..., help="The question, in words (or one SELECT)."),
    model: str | None = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    target: TargetChoice | None = typer.Option(None, help="Warehouse (default WAREHOUSE_TARGET)."),
    json_: bool = typer.Option(False, "--json", help="Print the answer as one JSON object."),
    show_sql: bool = typer.Option(
        False, "--show-sql", help="Show each SQL statement and its rows."
    ),
) -> None:
    """Answer a question from the warehouse and the documents, citing the SQL, rows and files."""
    _require_extra()
    from stack.agent.graph import ask as run

    answer = run(get_settings(), question, model=model, target=target.value if target else None)
    if json_:
        print_json(answer.to_dict())
    else:
        _print_answer(answer, show_sql=show_sql)
    raise typer.Exit(0 if answer.status == "answered" else 1)


@agent.command()
def index(
    target: TargetChoice | None = typer.Option(None, help="Warehouse (default WAREHOUSE_TARGET)."),
    json_: bool = typer.Option(False, "--json", help="Print the summary as one JSON object."),
) -> None:
    """Index the warehouse into Chroma (documents per page, dbt descriptions, merchants,
    dead-letter and reject reasons); a rerun embeds only what changed."""
    _require_extra()
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from stack.agent.index import index as run

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task("reading the warehouse", total=None)

        def on_event(event) -> None:
            if event.kind == "notice":
                err.print(f"[yellow]{escape(event.detail)}[/]", soft_wrap=True)
            elif event.kind == "progress":
                progress.update(
                    task, description="embedding", completed=event.done, total=event.total
                )

        summary = run(get_settings(), target=target.value if target else None, on_event=on_event)
    if json_:
        print_json(summary.to_dict())
        return
    table = Table(title=f"agent index ({summary.path})")
    table.add_column("source")
    table.add_column("entries", justify="right")
    for source, count in sorted(summary.by_source.items()):
        table.add_row(source, f"{count:,}")
    out.print(table)
    err.print(
        f"{summary.added} added, {summary.updated} updated, {summary.unchanged} unchanged, "
        f"{summary.removed} removed; {summary.embedded} embedded in {summary.embed_seconds:.1f} s "
        f"({summary.chunks_per_second:,.0f} chunks/s); {summary.seconds:.1f} s in all",
        highlight=False,
    )


@agent.command()
def chat(
    model: str | None = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    target: TargetChoice | None = typer.Option(None, help="Warehouse (default WAREHOUSE_TARGET)."),
    show_sql: bool = typer.Option(True, help="Show each SQL statement and its rows."),
) -> None:
    """Ask questions one after another (an empty line, `exit` or Ctrl-D ends)."""
    _require_extra()
    from stack.agent.graph import Agent

    session = Agent(get_settings(), model=model, target=target.value if target else None)
    err.print(f"agent ({session.model}) on {session.session.warehouse.where}; exit with Ctrl-D")
    try:
        while True:
            try:
                question = input("? ").strip()
            except EOFError:
                break
            if not question or question.lower() in ("exit", "quit"):
                break
            _print_answer(session.ask(question), show_sql=show_sql)
    finally:
        session.close()


@agent.command(name="eval")
def eval_(
    model: list[str] = typer.Option(
        None, "--model", "-m", help=MODEL_HELP + " Repeat to compare models."
    ),
    questions: str | None = typer.Option(
        None, help="A question set (YAML); default: the built-in one."
    ),
    target: TargetChoice | None = typer.Option(None, help="Warehouse (default WAREHOUSE_TARGET)."),
    json_: bool = typer.Option(False, "--json", help="Print the reports as one JSON object."),
) -> None:
    """Execution accuracy (set / multiset match, as BIRD and Spider), validity and latency."""
    _require_extra()
    from pathlib import Path

    from stack.agent.eval import evaluate, load_questions

    settings = get_settings()
    items = load_questions(Path(questions) if questions else None)
    reports = []
    for name in model or [None]:
        with err.status(f"evaluating {name or settings.agent_model or 'offline'}"):
            reports.append(
                evaluate(
                    settings, model=name, questions=items, target=target.value if target else None
                )
            )
    if json_:
        print_json({"reports": [r.to_dict() for r in reports]})
        return
    table = Table(title=f"agent eval: {len(items)} questions")
    for column in ("model", "set match", "multiset match", "valid", "p50 s", "p95 s"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for report in reports:
        table.add_row(
            report.model,
            f"{report.set_accuracy:.1%}",
            f"{report.multiset_accuracy:.1%}",
            f"{report.validity:.1%}",
            f"{report.latency_p50:.3f}",
            f"{report.latency_p95:.3f}",
        )
    out.print(table)
    for report in reports:
        by = Table(title=f"{report.model} by category")
        by.add_column("category")
        by.add_column("questions", justify="right")
        by.add_column("multiset match", justify="right")
        for category, figures in report.by_category.items():
            by.add_row(category, str(figures["questions"]), f"{figures['multiset_accuracy']:.0%}")
        out.print(by)
        for score in report.scores:
            if not score.multiset_match:
                err.print(f"[yellow]miss[/] {score.id}: {escape(score.question)} ({score.status})")


class GrantsTarget(StrEnum):
    snowflake = "snowflake"
    postgres = "postgres"


@agent.command()
def grants(
    target: GrantsTarget = typer.Option(GrantsTarget.snowflake, help="Where the role is created."),
) -> None:
    """Print the SQL that creates the agent's SELECT-only role (run it as an administrator).
    DuckDB needs none: the agent opens it read-only with external access disabled."""
    from stack.agent.warehouse import grants_sql

    print(grants_sql(get_settings(), target.value), end="")
