"""`stack agent eval`: execution accuracy on a question set, per model.

Each question's gold SQL runs on the warehouse at eval time, next to the agent's answer, so the
score holds on any seed or month range. Results are compared as BIRD and Spider do: the rows
of the agent's last query against the gold rows as a set (distinct rows) and as a multiset
(with duplicates); columns may come in any order (the best of their permutations); row order
counts only where the gold SQL orders its outermost query. Values are normalized first
(numbers to 2 decimals, midnight timestamps to dates). Document questions compare the files
the answer cites with the gold SQL's files; refusal questions need a refusal and no query.

Also reported: validity (the agent's SQL ran, or it refused when it had to) and latency.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path

import yaml

from stack.errors import StackError
from stack.progress import OnEvent, Reporter
from stack.settings import Settings

log = logging.getLogger(__name__)

QUESTIONS = Path(__file__).with_name("eval_questions.yaml")
_REFUSING = ("refused", "needs_model")


@dataclass(frozen=True)
class Question:
    id: str
    category: str
    question: str
    gold_sql: str | None = None
    refuse: bool = False


def load_questions(path: Path | None = None) -> list[Question]:
    path = path or QUESTIONS
    try:
        items = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise StackError(f"cannot read the question set {path}: {error}") from None
    questions = []
    for number, item in enumerate(items or [], 1):
        if not isinstance(item, dict) or "question" not in item:
            raise StackError(f"{path}: item {number} has no `question`")
        if not item.get("refuse") and not item.get("gold_sql"):
            raise StackError(f"{path}: item {number} ({item.get('id')}) needs gold_sql or refuse")
        loose = unordered_keys(item.get("gold_sql"))
        if loose:
            raise StackError(
                f"{path}: item {number} ({item.get('id')}): gold_sql orders its groups but not by "
                f"{', '.join(loose)}: groups that tie would come in any order, so the gold rows "
                "(and a LIMIT's pick) change from run to run; add them to the ORDER BY"
            )
        questions.append(
            Question(
                id=str(item.get("id") or number),
                category=str(item.get("category") or "other"),
                question=str(item["question"]),
                gold_sql=item.get("gold_sql"),
                refuse=bool(item.get("refuse")),
            )
        )
    return questions


def unordered_keys(sql: str | None) -> list[str]:
    """GROUP BY keys of an ordered gold query that its ORDER BY leaves out (DuckDB SQL).

    The group keys make the rows unique, so ordering by all of them is a total order; without
    it, ordered comparison and LIMIT depend on how the engine's threads happened to run."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ParseError

    try:
        tree = sqlglot.parse_one(sql or "", read="duckdb")
    except ParseError:
        return []  # the guard reports it when the question runs
    if not isinstance(tree, exp.Select) or not tree.args.get("order") or not tree.args.get("group"):
        return []
    selected = tree.expressions
    aliases = {s.alias.lower(): s.this for s in selected if isinstance(s, exp.Alias)}

    def key(node: exp.Expression) -> str:
        if isinstance(node, exp.Literal) and node.is_int and 0 < int(node.this) <= len(selected):
            node = selected[int(node.this) - 1]
        elif isinstance(node, exp.Column) and not node.table and node.name.lower() in aliases:
            node = aliases[node.name.lower()]
        if isinstance(node, exp.Alias):
            node = node.this
        return node.sql(dialect="duckdb").lower()

    ordered = {key(item.this) for item in tree.args["order"].expressions}
    return [key(g) for g in tree.args["group"].expressions if key(g) not in ordered]


def normalize(value: object) -> object:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, Decimal | float | int):
        return round(float(value), 2) + 0.0
    if isinstance(value, dt.datetime):
        if value.time() == dt.time() and value.utcoffset() in (None, dt.timedelta(0)):
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value)
    try:  # rows read back from JSON: exact decimals came as strings
        return round(float(Decimal(text)), 2) + 0.0
    except (ArithmeticError, ValueError):
        pass
    if len(text) == 19 and text.endswith("T00:00:00"):
        return text[:10]
    return text


def _rows(rows: list) -> list[tuple]:
    return [tuple(normalize(v) for v in row) for row in rows]


def compare(predicted: list[tuple], gold: list[tuple], *, ordered: bool) -> tuple[bool, bool]:
    """(set match, multiset match) of two row lists, columns in any order."""
    predicted, gold = _rows(predicted), _rows(gold)
    if not predicted and not gold:
        return True, True
    width = len(gold[0]) if gold else 0
    if (predicted and len(predicted[0]) != width) or not predicted or not gold:
        return False, False
    set_match = multiset_match = False
    gold_set, gold_counts = set(gold), Counter(gold)
    for order in itertools.islice(itertools.permutations(range(width)), 5040):
        shuffled = [tuple(row[i] for i in order) for row in predicted]
        if ordered:
            equal = shuffled == gold
            set_match = set_match or equal
            multiset_match = multiset_match or equal
        else:
            set_match = set_match or set(shuffled) == gold_set
            multiset_match = multiset_match or Counter(shuffled) == gold_counts
        if set_match and multiset_match:
            break
    return set_match, multiset_match


@dataclass
class Score:
    id: str
    category: str
    question: str
    status: str
    set_match: bool
    multiset_match: bool
    valid: bool
    seconds: float
    sql: str | None = None
    detail: str = ""


@dataclass
class EvalReport:
    model: str
    questions: int
    set_accuracy: float
    multiset_accuracy: float
    validity: float
    latency_p50: float
    latency_p95: float
    by_category: dict[str, dict[str, float]] = field(default_factory=dict)
    scores: list[Score] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def score_one(question: Question, answer, gold_rows, gold_ordered: bool) -> Score:
    """One answer (stack.agent.graph.Answer) against its question."""
    last = answer.last_query
    score = Score(
        question.id,
        question.category,
        question.question,
        answer.status,
        False,
        False,
        False,
        answer.seconds,
        last.sql if last else None,
    )
    if question.refuse:
        score.valid = score.set_match = score.multiset_match = (
            answer.status in _REFUSING and not answer.queries
        )
        return score
    if question.category == "document":
        files = {(d.file,) for d in answer.documents}
        score.valid = answer.status == "answered"
        score.set_match = score.multiset_match = score.valid and files == {
            tuple(r) for r in gold_rows
        }
        score.detail = f"cited {sorted(f[0] for f in files)}"
        return score
    if last is None:
        score.detail = "; ".join(answer.refusals) or answer.text[:200]
        return score
    score.valid = True
    score.set_match, score.multiset_match = compare(last.rows, gold_rows, ordered=gold_ordered)
    return score


def evaluate(
    settings: Settings,
    *,
    model: str | None = None,
    questions: list[Question] | None = None,
    predict: Callable[[str], object] | None = None,
    target: str | None = None,
    on_event: OnEvent | None = None,
) -> EvalReport:
    """Ask every question (`predict`: a stand-in for the agent, e.g. in tests) and score."""
    from stack.agent.graph import Agent
    from stack.agent.guard import check

    report_progress = Reporter("eval", on_event, log)
    questions = questions or load_questions()
    agent = Agent(settings, model=model, target=target)
    name = "custom" if predict else agent.model
    ask = predict or agent.ask
    scores = []
    try:
        report_progress.start(total=len(questions))
        for done, question in enumerate(questions, 1):
            gold_rows, ordered = [], False
            if question.gold_sql:
                checked = check(question.gold_sql, agent.session.catalog, row_limit=100_000)
                gold = agent.session.warehouse.run(checked.sql, limit=100_000, timeout=300)
                gold_rows, ordered = gold.rows, checked.ordered
            began = time.monotonic()
            answer = ask(question.question)
            if not getattr(answer, "seconds", 0):
                answer.seconds = time.monotonic() - began
            scores.append(score_one(question, answer, gold_rows, ordered))
            report_progress.progress(done, item=question.id, total=len(questions))
    finally:
        agent.close()
    report = EvalReport(
        model=name,
        questions=len(scores),
        set_accuracy=_share(scores, "set_match"),
        multiset_accuracy=_share(scores, "multiset_match"),
        validity=_share(scores, "valid"),
        latency_p50=statistics.median([s.seconds for s in scores]) if scores else 0.0,
        latency_p95=_percentile([s.seconds for s in scores], 0.95),
        scores=scores,
    )
    for category in sorted({s.category for s in scores}):
        group = [s for s in scores if s.category == category]
        report.by_category[category] = {
            "questions": len(group),
            "set_accuracy": _share(group, "set_match"),
            "multiset_accuracy": _share(group, "multiset_match"),
        }
    report_progress.done(done=len(scores))
    return report


def _share(scores: list[Score], attribute: str) -> float:
    return round(sum(getattr(s, attribute) for s in scores) / len(scores), 4) if scores else 0.0
