"""What a plan may do, for both planners: the three tools, their validation and execution.

- `metric_query`: a MetricQuery (stack/agent/semantic.py) -> MetricFlow SQL -> guard -> rows;
- `run_sql`: one SELECT -> guard -> rows;
- `search_documents`: the index (Chroma), documents only, with metadata filters.

Validation and execution are separate steps so the graph can show, and feed back, which one
failed. Text found in documents is returned as data (it never becomes a call).
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field

from stack.agent.guard import CheckedQuery, Refused, check
from stack.agent.semantic import MetricQuery, SemanticError, SemanticLayer
from stack.agent.warehouse import QueryFailed, QueryResult, Warehouse, open_warehouse
from stack.errors import StackError
from stack.settings import Settings

TOOL_NAMES = ("metric_query", "run_sql", "search_documents")


@dataclass
class Step:
    """One tool call of a plan, and what became of it."""

    id: str
    name: str
    args: dict
    sql: str | None = None  # what the guard accepted (metric_query, run_sql)
    checked: CheckedQuery | None = None
    result: QueryResult | None = None
    hits: list = field(default_factory=list)  # search_documents: index Hits
    error: str | None = None  # refused (guard, semantic layer) or failed (database)
    refused: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict:
        data = {"id": self.id, "name": self.name, "args": self.args, "sql": self.sql}
        if self.result is not None:
            data["result"] = self.result.to_dict()
        if self.hits:
            data["documents"] = [_hit_dict(h) for h in self.hits]
        data["error"] = self.error
        data["refused"] = self.refused
        return data

    def feedback(self, max_rows: int = 50) -> str:
        """What the planner sees of this step (a tool message)."""
        import json

        if self.error:
            kind = "REFUSED" if self.refused else "ERROR"
            return f"{kind}: {self.error}"
        if self.result is not None:
            data = self.result.to_dict()
            data["rows"] = data["rows"][:max_rows]
            return json.dumps(data, default=str)
        return json.dumps(
            {"documents": [_hit_dict(h) for h in self.hits]},
            default=str,
        )


def _hit_dict(hit) -> dict:
    meta = hit.metadata
    return {
        "file": meta.get("file"),
        "page": meta.get("page"),
        "kind": meta.get("kind"),
        "vendor": meta.get("vendor") or None,
        "account_id": meta.get("account_id") or None,
        "text": hit.text,
        "distance": round(hit.distance, 4),
    }


class AgentSession:
    """What answering needs, opened once per process (a REPL or an eval reuses it): the
    warehouse's read-only view, its catalog, the semantic layer, the vocabulary, the index."""

    def __init__(self, settings: Settings, *, target: str | None = None) -> None:
        self.settings = settings
        self.target = target
        self.warehouse: Warehouse = open_warehouse(settings, target)
        self.notices = list(self.warehouse.notices)

    @functools.cached_property
    def catalog(self):
        return self.warehouse.catalog()

    @functools.cached_property
    def layer(self) -> SemanticLayer:
        return SemanticLayer.load(self.settings)

    @functools.cached_property
    def vocabulary(self):
        from stack.agent.vocabulary import Vocabulary

        return Vocabulary.build(self.layer, self.warehouse)

    @functools.cached_property
    def collection(self):
        from stack.agent.index import open_collection

        return open_collection(self.settings)

    @property
    def dialect(self) -> str:
        return self.catalog.dialect

    def close(self) -> None:
        self.warehouse.close()

    # --- the tools ---------------------------------------------------------------------------
    def validate(self, step: Step) -> None:
        """Compile and check a step in place (sets sql/checked, or error + refused)."""
        limit = self.settings.agent_row_limit
        try:
            if step.name == "metric_query":
                query = MetricQuery.from_dict(step.args)
                sql = self.layer.compile(query, self.dialect)
                step.checked = check(sql, self.catalog, row_limit=limit)
            elif step.name == "run_sql":
                step.checked = check(str(step.args.get("sql", "")), self.catalog, row_limit=limit)
            elif step.name == "search_documents":
                if not str(step.args.get("query", "")).strip():
                    raise Refused("search_documents needs a query")
                return
            else:
                raise Refused(f"unknown tool {step.name!r}: use one of {', '.join(TOOL_NAMES)}")
        except (Refused, SemanticError) as error:
            step.error, step.refused = str(error), True
            return
        except (KeyError, TypeError, ValueError) as error:
            step.error, step.refused = f"bad arguments for {step.name}: {error}", True
            return
        step.sql = step.checked.sql

    def execute(self, step: Step) -> None:
        if step.error:
            return
        try:
            if step.name == "search_documents":
                step.hits = self.search_documents(**step.args)
            else:
                step.result = self.warehouse.run(
                    step.checked.sql,
                    limit=self.settings.agent_row_limit,
                    timeout=self.settings.agent_timeout_seconds,
                )
        except QueryFailed as error:
            step.error = str(error)
        except StackError as error:
            step.error = str(error)

    def search_documents(
        self,
        query: str,
        kind: str | None = None,
        vendor: str | None = None,
        account_id: str | None = None,
        currency: str | None = None,
        issued_from: str | None = None,
        issued_to: str | None = None,
        k: int | None = None,
        **_ignored,
    ) -> list:
        """Document pages nearest to `query`, among those matching the filters given."""
        from stack.agent.index import search

        clauses: list[dict] = [{"source": "document"}]
        for key, value in (
            ("kind", kind),
            ("vendor", vendor),
            ("account_id", account_id),
            ("currency", currency),
        ):
            if value:
                clauses.append({key: str(value)})
        for bound, operator in ((issued_from, "$gte"), (issued_to, "$lte")):
            if bound:
                day = int(dt.date.fromisoformat(str(bound)[:10]).strftime("%Y%m%d"))
                clauses.append({"document_date": {operator: day}})
        filtered = len(clauses) > 1
        hits = search(
            self.settings,
            query,
            k=int(k or (50 if filtered else 5)),
            where=clauses[0] if len(clauses) == 1 else {"$and": clauses},
            collection=self.collection,
        )
        best: dict[tuple, object] = {}
        for hit in hits:  # one hit per file and page: the nearest chunk
            key = (hit.metadata.get("file"), hit.metadata.get("page"))
            if key not in best:
                best[key] = hit
        return list(best.values())
