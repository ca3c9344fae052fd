"""The words the offline planner understands, all derived from the semantic layer and the
warehouse: metric and dimension synonyms (dbt meta), and the values of each categorical
dimension and entity (distinct values in the warehouse), so a question can name "dining",
"EUR", "refunded" or a merchant without any of them being written in code.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from stack.agent.semantic import SemanticLayer
from stack.agent.warehouse import QueryFailed, Warehouse

MAX_VALUES = 5000  # per dimension: more than that is an id, not a vocabulary
_NON_WORD = re.compile(r"[^\w\s-]+")
_SPACES = re.compile(r"\s+")
# Entities that are row ids, never named in questions.
_ID_ENTITIES = {"transaction", "document", "dead_letter", "reject"}


def normalize(text: str) -> str:
    return _SPACES.sub(" ", _NON_WORD.sub(" ", text.lower())).strip()


def singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("es") and word[:-2].endswith(("ch", "sh", "x", "s")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


@dataclass
class Vocabulary:
    # normalized value -> [(group-by name, value as stored)]
    values: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    # semantic model -> the latest date its time dimension has
    latest: dict[str, dt.date] = field(default_factory=dict)
    longest_value: int = 1  # words

    @classmethod
    def build(cls, layer: SemanticLayer, warehouse: Warehouse) -> Vocabulary:
        vocabulary = cls()
        for info in layer.dimensions.values():
            if info.kind == "time" and info.relation and info.column and "__" in info.name:
                rows = _rows(warehouse, f"SELECT max({info.column}) FROM {info.relation}")
                value = rows[0][0] if rows else None
                if isinstance(value, dt.datetime):
                    value = value.date()
                if isinstance(value, dt.date):
                    model = info.semantic_model or ""
                    vocabulary.latest[model] = max(value, vocabulary.latest.get(model, value))
                continue
            if info.kind not in ("categorical", "entity") or info.name in _ID_ENTITIES:
                continue
            if not info.relation or not info.column:
                continue
            rows = _rows(
                warehouse,
                f"SELECT DISTINCT {info.column} FROM {info.relation} "
                f"WHERE {info.column} IS NOT NULL LIMIT {MAX_VALUES + 1}",
            )
            if len(rows) > MAX_VALUES:
                continue
            for (value,) in rows:
                if isinstance(value, bool) or value is None:
                    continue
                key = normalize(str(value))
                if not key:
                    continue
                vocabulary.values.setdefault(key, []).append((info.name, str(value)))
                vocabulary.longest_value = max(vocabulary.longest_value, len(key.split()))
        return vocabulary


def _rows(warehouse: Warehouse, sql: str) -> list[tuple]:
    try:
        return warehouse.run(sql, limit=MAX_VALUES + 1, timeout=60).rows
    except QueryFailed:
        return []
