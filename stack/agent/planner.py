"""The offline planner: a question in, a plan out, with no model.

Deterministic, and written against the semantic layer rather than the data: it finds the
metrics a question names (their dbt `meta.synonyms`), the group-bys ("by category", "per
month", "top 5 merchants"), filters (any value a categorical dimension or entity holds in the
warehouse: "dining", "EUR", a merchant's name), and time ranges ("in March 2025", "Q1 2025",
"2025-02", "between January and March 2025", "the last 30 days" of the data), and compiles
them as a MetricFlow query. A question about documents becomes a search of the index with
metadata filters (kind, vendor, dates). A statement of SQL runs as it is, through the guard.

What it cannot express ("why ...", comparisons with reasoning, free-form analysis) it does not
guess: the plan says that the question needs a model (AGENT_MODEL). Requests to change data
are refused: the agent only reads.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass, field

from stack.agent.semantic import Filter, MetricQuery, SemanticLayer
from stack.agent.vocabulary import Vocabulary, normalize, singular

MONTHS = {
    name.lower(): number
    for number in range(1, 13)
    for name in (calendar.month_name[number], calendar.month_abbr[number])
}
MONTHS["sept"] = 9
_MONTH = r"(" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")"
_YEAR = r"((?:19|20)\d\d)"
_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "twenty": 20,
}  # fmt: skip
_GRAINS = {
    "day": "day", "daily": "day", "days": "day", "week": "week", "weekly": "week",
    "weeks": "week", "month": "month", "monthly": "month", "months": "month",
    "quarter": "quarter", "quarterly": "quarter", "quarters": "quarter", "year": "year",
    "yearly": "year", "annual": "year", "annually": "year", "years": "year",
}  # fmt: skip
_WRITE = re.compile(
    r"\b(drop|delete|truncate|insert|update|alter|grant|revoke|erase|wipe|overwrite|"
    r"remove|modify|create|rename|replace)\b(?!\s+(?:in|of|by|during|since|from|after)\b)"
)  # "delete the dead letters", not "why did spend drop in April"
_SECRET = re.compile(
    r"\b(password|passwords|secret|secrets|api key|credential|credentials|token)\b"
)
_FILES = re.compile(r"(/etc/|/root|~/|\.env\b|read_csv|read_text|\bfile system\b)")
_NEEDS_MODEL = re.compile(
    r"\b(why|explain|explanation|predict|prediction|forecast|recommend|should|suggest|"
    r"summari[sz]e|what if|cause|caused|reason why|correlat\w*|anomal\w*|unusual)\b"
)
_SEARCH = re.compile(
    r"\b(find|search|show me|list|which|mention\w*|about|contain\w*|say|says|said|look up|"
    r"retrieve|get me)\b"
)
_DOCUMENT_WORDS = re.compile(r"\b(documents?|pdfs?|invoices?|statements?|bills?|receipts?)\b")
_LISTING = re.compile(r"^(find|search|show|list|which|get|retrieve|look up|give me)\b")
_EXTREME = re.compile(
    r"\b(largest|biggest|smallest|highest|lowest|maximum|minimum|max|min|single)\b"
)
_COUNT = re.compile(r"\b(how many|number of|count of|count)\b")
_SQL = re.compile(r"^\s*(select|with|from)\b", re.IGNORECASE)


@dataclass
class Plan:
    """What to do for a question: tool calls (`metric_query`, `run_sql`, `search_documents`),
    or no calls and a status saying why (`refused`, `needs_model`)."""

    calls: list[dict] = field(default_factory=list)  # {"name": ..., "args": {...}}
    status: str | None = None  # refused | needs_model: nothing to run
    reason: str = ""
    description: str = ""  # what the plan answers, for the answer's first line


def _day(year: int, month: int, last: bool = False) -> dt.date:
    return dt.date(year, month, calendar.monthrange(year, month)[1] if last else 1)


def parse_time(text: str, latest: dt.date | None) -> tuple[dt.date | None, dt.date | None, str]:
    """(start, end, what it said) of the first time range in `text` (lower case)."""
    iso = r"(\d{4}-\d{2}-\d{2})"
    match = re.search(rf"\b(?:from|between)\s+{iso}\s+(?:to|and|until)\s+{iso}", text)
    if match:
        start, end = dt.date.fromisoformat(match[1]), dt.date.fromisoformat(match[2])
        return start, end, f"from {start} to {end}"
    match = re.search(rf"\bon\s+{iso}\b", text) or re.search(rf"\b{iso}\b", text)
    if match:
        day = dt.date.fromisoformat(match[1])
        return day, day, f"on {day}"
    match = re.search(r"\b(\d{4})-(\d{2})\b", text)
    if match and 1 <= int(match[2]) <= 12:
        year, month = int(match[1]), int(match[2])
        return _day(year, month), _day(year, month, True), f"in {year}-{month:02d}"
    match = re.search(
        rf"\b(?:from|between)?\s*{_MONTH}\s*(?:{_YEAR})?\s*(?:to|and|until|through|-)\s*{_MONTH}\s+{_YEAR}",
        text,
    )
    if match:
        end_year = int(match[4])
        start_year = int(match[2]) if match[2] else end_year
        start, end = MONTHS[match[1]], MONTHS[match[3]]
        return (
            _day(start_year, start),
            _day(end_year, end, True),
            f"from {calendar.month_name[start]} {start_year} to {calendar.month_name[end]} {end_year}",
        )
    match = re.search(rf"\b{_MONTH}\s+(?:of\s+)?{_YEAR}\b", text)
    if match:
        month, year = MONTHS[match[1]], int(match[2])
        return _day(year, month), _day(year, month, True), f"in {calendar.month_name[month]} {year}"
    match = re.search(rf"\bq([1-4])\s*(?:of\s+)?{_YEAR}\b", text) or re.search(
        rf"\b(first|second|third|fourth) quarter (?:of )?{_YEAR}\b", text
    )
    if match:
        quarter = {"first": 1, "second": 2, "third": 3, "fourth": 4}.get(match[1]) or int(match[1])
        year = int(match[2])
        return (
            _day(year, 3 * quarter - 2),
            _day(year, 3 * quarter, True),
            f"in Q{quarter} {year}",
        )
    match = re.search(r"\b(?:last|past|previous)\s+(\d+|\w+)\s+(days?|weeks?|months?)\b", text)
    if match and latest is not None:
        count = int(match[1]) if match[1].isdigit() else _NUMBERS.get(match[1], 0)
        if count:
            days = count * {"d": 1, "w": 7, "m": 30}[match[2][0]]
            start = latest - dt.timedelta(days=days - 1)
            return start, latest, f"in the last {count} {match[2]} of the data (to {latest})"
    match = re.search(rf"\b(?:in|during|for|of)\s+{_MONTH}\b(?!\s+\d)", text)
    if match and latest is not None:
        month = MONTHS[match[1]]
        year = latest.year if month <= latest.month else latest.year - 1
        return (
            _day(year, month),
            _day(year, month, True),
            f"in {calendar.month_name[month]} {year} (the latest one in the data)",
        )
    match = re.search(rf"\b(?:in|during|for|of)\s+{_YEAR}\b", text)
    if match:
        year = int(match[1])
        return dt.date(year, 1, 1), dt.date(year, 12, 31), f"in {year}"
    return None, None, ""


class _Words:
    """The question's normalized words, and which of them a match has used up."""

    def __init__(self, text: str) -> None:
        self.words = normalize(text).split()
        self.used = [False] * len(self.words)

    def find(self, phrase: str, *, use: bool = True, plural: bool = True) -> int | None:
        """Index of the first free occurrence of `phrase` (its last word may be plural)."""
        target = phrase.split()
        n = len(target)
        for i in range(len(self.words) - n + 1):
            window = self.words[i : i + n]
            if any(self.used[i : i + n]):
                continue
            if window == target or (
                plural and window[:-1] == target[:-1] and singular(window[-1]) == target[-1]
            ):
                if use:
                    self.used[i : i + n] = [True] * n
                return i
        return None


class OfflinePlanner:
    name = "offline"

    def __init__(self, layer: SemanticLayer, vocabulary: Vocabulary) -> None:
        self.layer = layer
        self.vocabulary = vocabulary
        self._metric_phrases = sorted(
            ((normalize(s), m.name) for m in layer.metrics.values() for s in m.synonyms),
            key=lambda item: -len(item[0].split()),
        )

    # --- the plan ----------------------------------------------------------------------------
    def plan(self, question: str) -> Plan:
        text = " ".join(question.lower().split())
        if _SQL.match(question):
            return Plan(
                [{"name": "run_sql", "args": {"sql": question.strip()}}], description="your SQL"
            )
        if _WRITE.search(text) or _SECRET.search(text) or _FILES.search(text):
            return Plan(
                status="refused",
                reason="The agent only reads the warehouse's tables: it does not change data, "
                "read files or reveal settings, whatever a question or a document asks.",
            )
        if _NEEDS_MODEL.search(text):
            return self._needs_model(
                "it asks for reasoning (why, explain, predict, recommend), not a figure"
            )
        words = _Words(text)
        wants_documents = bool(_DOCUMENT_WORDS.search(text))
        if wants_documents and _LISTING.match(text) and not _COUNT.search(text):
            return self._search(question, text, words)
        metrics = self._metrics(words)
        if not metrics and wants_documents and not _COUNT.search(text):
            return self._search(question, text, words)
        if not metrics and _COUNT.search(text):
            metrics = self._count_metric(words)
        if not metrics:
            if wants_documents or _SEARCH.search(text):
                return self._search(question, text, words)
            return self._needs_model("it names no metric the semantic layer defines")
        return self._metric_plan(text, words, metrics)

    def _needs_model(self, why: str) -> Plan:
        names = ", ".join(sorted(self.layer.metrics))
        return Plan(
            status="needs_model",
            reason=(
                f"This question needs a language model ({why}). Without one (AGENT_MODEL is "
                f"empty) the agent answers questions about the metrics ({names}) by "
                "dimensions, filters, time ranges and top-N, and searches the documents. Set "
                "AGENT_MODEL (e.g. ollama:qwen2.5-coder:7b) or pass --model to ask it."
            ),
        )

    def _metrics(self, words: _Words) -> list[str]:
        found = []
        for phrase, metric in self._metric_phrases:
            while words.find(phrase) is not None:
                if metric not in found:
                    found.append(metric)
        return found

    def _count_metric(self, words: _Words) -> list[str]:
        """'How many invoices ...': the count metric of the model a named value belongs to."""
        for name, _value in self._values(words, None, use=False):
            model = self.layer.dimensions[name].semantic_model
            for metric in self.layer.metrics.values():
                if metric.semantic_model == model and not metric.per_currency:
                    return [metric.name]
        return []

    # --- metric questions ------------------------------------------------------------------
    def _metric_plan(self, text: str, words: _Words, metrics: list[str]) -> Plan:
        reachable = frozenset.intersection(*(self.layer.reachable(m) for m in metrics))
        home = self.layer.metrics[metrics[0]].semantic_model
        latest = self.vocabulary.latest.get(home)
        start, end, when = parse_time(text, latest)
        group_by: list[str] = []
        order_by: list[str] = []
        limit = None
        grain = self._grain(text)
        if grain:
            group_by.append(f"metric_time__{grain}")
        top = re.search(
            r"\b(top|bottom|highest|lowest|largest|smallest|biggest|most|least|fewest)\s+"
            r"(\d+|one|two|three|four|five|six|seven|eight|nine|ten|twenty)?\s*([a-z][a-z ]*)",
            text,
        )
        which = re.search(
            r"\b(which|what)\s+([a-z][a-z ]*?)\s+(had|has|have|did|was|were|with|is|are|by|spent|got)\b",
            text,
        )
        for match in re.finditer(
            r"\b(?:by|per|for each|each|across|split by|grouped by|broken down by)\s+"
            r"([a-z][a-z ]*)",
            text,
        ):
            group_by += self._dimensions_in(match[1], words, reachable)
        ranked = self._dimensions_in(top[3], words, reachable, first_only=True) if top else []
        if ranked:
            group_by += [d for d in ranked if d not in group_by]
            count = top[2]
            limit = int(count) if count and count.isdigit() else _NUMBERS.get(count or "", 0)
            descending = top[1] not in ("bottom", "lowest", "smallest", "least", "fewest")
            limit = limit or (1 if top[1] in ("most", "least", "fewest") else 5)
            order_by = [("-" if descending else "") + metrics[0]]
        elif which:
            found = self._dimensions_in(which[2], words, reachable, first_only=True)
            if found:
                group_by += [d for d in found if d not in group_by]
                ascending = re.search(r"\b(least|lowest|smallest|fewest|minimum)\b", text)
                order_by = [("" if ascending else "-") + metrics[0]]
                limit = 1
        if _EXTREME.search(text) and not limit:
            return self._needs_model(
                "it asks for an extreme single value, which no metric defines: that takes SQL "
                "a model would write"
            )
        filters = self._filters(words, reachable)
        group_by = list(dict.fromkeys(group_by))
        notes = []
        for metric in metrics:
            info = self.layer.metrics[metric]
            currency = self._currency_dimension(info.semantic_model, reachable)
            if (
                info.per_currency
                and currency
                and currency not in group_by
                and not any(f.dimension == currency for f in filters)
            ):
                group_by.append(currency)
                notes.append("per currency (amounts in different currencies are never added)")
        if not order_by:
            times = [g for g in group_by if g.startswith("metric_time")]
            order_by = times or ([f"-{metrics[0]}"] if group_by else [])
        query = MetricQuery(metrics, group_by, filters, start, end, order_by, limit)
        return Plan(
            [{"name": "metric_query", "args": query.to_dict()}],
            description=self._describe(query, when, notes),
        )

    def _grain(self, text: str) -> str | None:
        match = re.search(
            r"\b(?:by|per|each|every|for each)\s+(day|week|month|quarter|year)\b|"
            r"\b(daily|weekly|monthly|quarterly|yearly|annually)\b|\b(day|week|month|quarter|year) by \3\b",
            text,
        )
        if not match:
            return None
        return _GRAINS[next(g for g in match.groups() if g)]

    def _dimension_phrases(self, reachable: frozenset[str]) -> list[tuple[str, str]]:
        phrases = []
        for name in reachable:
            info = self.layer.dimensions.get(name)
            if info is None or info.kind == "time" or name in ("transaction",):
                continue
            for synonym in info.synonyms:
                phrases.append((normalize(synonym), name))
        return sorted(phrases, key=lambda item: -len(item[0].split()))

    def _dimensions_in(
        self, phrase: str, words: _Words, reachable: frozenset[str], *, first_only: bool = False
    ) -> list[str]:
        """Dimensions named at the start of `phrase` ("category and currency in March")."""
        found = []
        rest = normalize(phrase)
        candidates = self._dimension_phrases(reachable)
        while rest:
            match = next(
                (
                    (synonym, name)
                    for synonym, name in candidates
                    if rest == synonym
                    or rest.startswith(synonym + " ")
                    or (singular(rest.split()[0]) == synonym and " " not in synonym)
                ),
                None,
            )
            if match is None:
                break
            synonym, name = match
            words.find(synonym)
            if name not in found:
                found.append(name)
            if first_only:
                break
            rest = rest[len(synonym) :].lstrip("s").strip()  # "categories" -> "category" + "s"
            if not rest.startswith("and "):
                break
            rest = rest[4:]
        return found

    def _values(self, words: _Words, reachable: frozenset[str] | None, *, use: bool = True):
        """(group-by name, value) for every dimension value the question names."""
        found = []
        longest = self.vocabulary.longest_value
        for size in range(min(longest, len(words.words)), 0, -1):
            for i in range(len(words.words) - size + 1):
                if any(words.used[i : i + size]):
                    continue
                window = words.words[i : i + size]
                key = " ".join(window)
                options = self.vocabulary.values.get(key) or self.vocabulary.values.get(
                    " ".join([*window[:-1], singular(window[-1])])
                )
                if not options:
                    continue
                options = [o for o in options if reachable is None or o[0] in reachable]
                if not options:
                    continue
                if use:
                    words.used[i : i + size] = [True] * size
                found.append(options)
        return [self._choose(options) for options in found]

    def _choose(self, options: list[tuple[str, str]]) -> tuple[str, str]:
        """Of the dimensions holding a value, the metric's own (shortest join path) first."""
        return min(options, key=lambda o: (self.layer.dimensions[o[0]].kind == "entity", len(o[0])))

    def _filters(self, words: _Words, reachable: frozenset[str]) -> list[Filter]:
        by_dimension: dict[str, list[str]] = {}
        for name, value in self._values(words, reachable):
            by_dimension.setdefault(name, [])
            if value not in by_dimension[name]:
                by_dimension[name].append(value)
        return [Filter(name, values) for name, values in by_dimension.items()]

    def _currency_dimension(self, model: str, reachable: frozenset[str]) -> str | None:
        for name in reachable:
            info = self.layer.dimensions.get(name)
            if info and info.semantic_model == model and name.endswith("__currency_code"):
                return name
        return None

    def _describe(self, query: MetricQuery, when: str, notes: list[str]) -> str:
        labels = " and ".join(self.layer.metrics[m].label for m in query.metrics)
        parts = [labels]
        if query.group_by:
            parts.append(
                "by " + ", ".join(g.split("__")[-1].replace("_", " ") for g in query.group_by)
            )
        for item in query.filters:
            parts.append(
                f"where {item.dimension.split('__')[-1].replace('_', ' ')} is {' or '.join(item.values)}"
            )
        if when:
            parts.append(when)
        if query.limit:
            parts.append(f"(top {query.limit})")
        text = " ".join(parts)
        return text + (f"; {'; '.join(notes)}" if notes else "")

    # --- document questions ------------------------------------------------------------------
    def _search(self, question: str, text: str, words: _Words) -> Plan:
        reachable = (
            self.layer.reachable("documents") if "documents" in self.layer.metrics else frozenset()
        )
        where: dict[str, object] = {}
        latest = self.vocabulary.latest.get("documents")
        start, end, when = parse_time(text, latest)
        for name, value in self._values(words, reachable):
            if name.endswith("__document_kind"):
                where["kind"] = value
            elif name.endswith("__vendor_name"):
                where["vendor"] = value
            elif name.endswith("__currency_code"):
                where["currency"] = value
        for _name, value in self._values(_Words(text), frozenset({"account"})):
            where["account_id"] = value
        if not where.get("kind"):
            match = _DOCUMENT_WORDS.search(text)
            if match and singular(match[1]) in ("invoice", "statement"):
                where["kind"] = singular(match[1])
        args = {"query": question, **where}
        if start:
            args["issued_from"] = start.isoformat()
            args["issued_to"] = (end or start).isoformat()
        described = ", ".join(f"{k} {v}" for k, v in where.items())
        return Plan(
            [{"name": "search_documents", "args": args}],
            description="documents"
            + (f" ({described})" if described else "")
            + (f" issued {when}" if when else ""),
        )
