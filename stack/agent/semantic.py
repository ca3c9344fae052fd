"""The semantic layer: dbt's semantic models and metrics (dbt/models/semantic/), compiled to
SQL by MetricFlow for the warehouse's dialect.

The semantic manifest is what dbt writes (`target/semantic_manifest.json`: `stack transform`,
or `dbt parse`, which this module runs when the file is missing or older than the project's
yml). Relations are rewritten to `schema.table` (no database): the same manifest then serves
DuckDB and Snowflake, and a metric query compiles to the same SQL text on both wherever the
dialects agree (tests/agent/test_semantic.py checks "spend by category in March 2025").

MetricFlow only compiles here (`explain`); the SQL runs through the agent's guard and
read-only connection like any other statement.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import re
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

from stack.errors import StackError
from stack.settings import Settings

log = logging.getLogger(__name__)

TIME_GRAINS = ("day", "week", "month", "quarter", "year")
_COMMENT = re.compile(r"^\s*--.*$\n?", re.MULTILINE)


class SemanticError(StackError):
    """A metric query MetricFlow cannot compile (unknown metric, dimension not reachable...)."""


@dataclass
class Filter:
    """`dimension` (a MetricFlow group-by name) equal to one of `values`."""

    dimension: str
    values: list[str]


@dataclass
class MetricQuery:
    metrics: list[str]
    group_by: list[str] = field(
        default_factory=list
    )  # transaction__category_group, merchant, metric_time__month
    filters: list[Filter] = field(default_factory=list)
    start: dt.date | None = None  # inclusive
    end: dt.date | None = None  # inclusive
    order_by: list[str] = field(default_factory=list)  # "-spend", "metric_time__month"
    limit: int | None = None

    def to_dict(self) -> dict:
        data = asdict(self)
        data["start"] = self.start.isoformat() if self.start else None
        data["end"] = self.end.isoformat() if self.end else None
        return data

    @classmethod
    def from_dict(cls, data: dict) -> MetricQuery:
        def day(value):
            return dt.date.fromisoformat(str(value)[:10]) if value else None

        return cls(
            metrics=list(data.get("metrics") or []),
            group_by=list(data.get("group_by") or []),
            filters=[
                Filter(f["dimension"], [str(v) for v in f.get("values") or []])
                for f in data.get("filters") or []
            ],
            start=day(data.get("start")),
            end=day(data.get("end")),
            order_by=list(data.get("order_by") or []),
            limit=int(data["limit"]) if data.get("limit") else None,
        )


@dataclass(frozen=True)
class MetricInfo:
    name: str
    label: str
    description: str
    synonyms: tuple[str, ...]
    per_currency: bool
    semantic_model: str  # where its first measure lives (for its currency dimension)


@dataclass(frozen=True)
class DimensionInfo:
    """A group-by item: a categorical dimension, an entity, or metric_time."""

    name: str  # as MetricFlow names it: transaction__category_group, merchant, metric_time
    kind: str  # categorical | entity | time
    synonyms: tuple[str, ...]
    semantic_model: str | None
    relation: str | None  # schema.table the values live in (categorical, entity)
    column: str | None  # column or expression there
    description: str = ""


def manifest_path(settings: Settings, *, refresh: bool = False) -> Path:
    """dbt's semantic_manifest.json for the project: `stack transform`'s, or a fresh
    `dbt parse` into STACK_HOME/agent/dbt when that is missing or older than the yml."""
    from stack.project import dbt_dir

    project = dbt_dir(settings)
    newest_yml = max(
        (p.stat().st_mtime for p in project.rglob("*.yml") if "target" not in p.parts),
        default=0.0,
    )
    ours = settings.stack_home / "agent" / "dbt"
    for candidate in (
        project / "target" / "semantic_manifest.json",
        ours / "semantic_manifest.json",
    ):
        if not refresh and candidate.exists() and candidate.stat().st_mtime >= newest_yml:
            return candidate
    from stack.warehouse.transform import run_dbt

    ours.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []
    code = run_dbt(settings, ["parse"], target_path=ours, timeout=300, output=lines.append)
    target = ours / "semantic_manifest.json"
    if code != 0 or not target.exists():
        detail = next((line for line in reversed(lines) if "rror" in line), f"exit code {code}")
        raise StackError(f"dbt parse failed, so the semantic layer is unavailable: {detail}")
    return target


def _portable(raw: dict) -> dict:
    """Relations as schema.table: the manifest then names no database (file or account)."""
    relations = [sm["node_relation"] for sm in raw.get("semantic_models", [])]
    relations += [
        spine["node_relation"]
        for spine in raw.get("project_configuration", {}).get("time_spines", [])
    ]
    for relation in relations:
        relation["database"] = None
        relation["relation_name"] = f"{relation['schema_name']}.{relation['alias']}"
    return raw


class _CompileOnly:
    """MetricFlow's SqlClient protocol, for compiling only: the agent runs the SQL itself."""

    def __init__(self, dialect: str) -> None:
        from metricflow.protocols.sql_client import SqlEngine

        if dialect == "snowflake":
            from metricflow.sql.render.snowflake import SnowflakeSqlPlanRenderer as Renderer

            self.sql_engine_type = SqlEngine.SNOWFLAKE
        else:
            from metricflow.sql.render.duckdb_renderer import DuckDbSqlPlanRenderer as Renderer

            self.sql_engine_type = SqlEngine.DUCKDB
        self.sql_plan_renderer = Renderer()

    def query(self, *args, **kwargs):
        raise RuntimeError("compile only: the agent runs MetricFlow's SQL through its guard")

    execute = dry_run = query

    def close(self) -> None:
        pass

    def render_bind_parameter_key(self, key: str) -> str:
        return f"${key}"


class SemanticLayer:
    """The metrics and group-bys of the manifest, and `compile(query, dialect) -> SQL`."""

    def __init__(self, raw: dict) -> None:
        from metricflow_semantics.model.dbt_manifest_parser import (
            parse_manifest_from_dbt_generated_manifest,
        )
        from metricflow_semantics.model.semantic_manifest_lookup import SemanticManifestLookup

        self.raw = _portable(raw)
        self._lookup = SemanticManifestLookup(
            parse_manifest_from_dbt_generated_manifest(json.dumps(self.raw))
        )
        self._engines: dict[str, object] = {}
        self._lock = threading.RLock()
        self.metrics = self._metrics()
        self.dimensions = self._dimensions()
        self._reachable: dict[str, frozenset[str]] = {}

    @classmethod
    def load(cls, settings: Settings) -> SemanticLayer:
        path = manifest_path(settings)
        return _cached_layer(str(path), path.stat().st_mtime_ns)

    # --- what the manifest declares ------------------------------------------------------------
    def _models(self) -> dict[str, dict]:
        return {sm["name"]: sm for sm in self.raw["semantic_models"]}

    def _metrics(self) -> dict[str, MetricInfo]:
        measure_model = {
            measure["name"]: sm["name"]
            for sm in self.raw["semantic_models"]
            for measure in sm.get("measures", [])
        }
        metrics = {}
        for metric in self.raw["metrics"]:
            meta = (metric.get("config") or {}).get("meta") or {}
            measures = metric["type_params"].get("input_measures") or []
            model = measure_model.get(measures[0]["name"]) if measures else None
            metrics[metric["name"]] = MetricInfo(
                name=metric["name"],
                label=metric.get("label") or metric["name"],
                description=metric.get("description") or "",
                synonyms=tuple(meta.get("synonyms") or [metric["name"].replace("_", " ")]),
                per_currency=bool(meta.get("per_currency")),
                semantic_model=model or "",
            )
        return metrics

    def _dimensions(self) -> dict[str, DimensionInfo]:
        found: dict[str, DimensionInfo] = {
            "metric_time": DimensionInfo("metric_time", "time", (), None, None, None)
        }
        for sm in self.raw["semantic_models"]:
            relation = sm["node_relation"]["relation_name"]
            primary = next((e for e in sm.get("entities", []) if e["type"] == "primary"), None)
            for entity in sm.get("entities", []):
                meta = (entity.get("config") or {}).get("meta") or {}
                earlier = found.get(entity["name"])
                synonyms = tuple(
                    dict.fromkeys(
                        [*(earlier.synonyms if earlier else ()), *meta.get("synonyms", ())]
                    )
                )
                if earlier is None or entity["type"] == "primary":  # values: the primary's table
                    found[entity["name"]] = DimensionInfo(
                        entity["name"],
                        "entity",
                        synonyms,
                        sm["name"],
                        relation,
                        entity.get("expr") or entity["name"],
                    )
                else:
                    found[entity["name"]] = DimensionInfo(
                        **{**asdict(earlier), "synonyms": synonyms}
                    )
            if primary is None:
                continue
            for dimension in sm.get("dimensions", []):
                meta = (dimension.get("config") or {}).get("meta") or {}
                name = f"{primary['name']}__{dimension['name']}"
                found[name] = DimensionInfo(
                    name,
                    "time" if dimension["type"] == "time" else "categorical",
                    tuple(meta.get("synonyms") or (dimension["name"].replace("_", " "),)),
                    sm["name"],
                    relation,
                    dimension.get("expr") or dimension["name"],
                    dimension.get("description") or "",
                )
        return found

    def reachable(self, metric: str) -> frozenset[str]:
        """Group-by names usable with `metric`: its semantic model's dimensions and entities,
        and those of the models whose primary entity it names (one join, as MetricFlow does)."""
        if metric not in self._reachable:
            models = self._models()
            home = (
                models.get(self.metrics[metric].semantic_model) if metric in self.metrics else None
            )
            names = {"metric_time"}
            if home is not None:
                entities = {e["name"] for e in home.get("entities", [])}
                names |= entities
                for info in self.dimensions.values():
                    prefix = info.name.split("__")[0]
                    if "__" in info.name and (
                        info.semantic_model == home["name"]
                        or (prefix in entities and self._primary_of(models, info) == prefix)
                    ):
                        names.add(info.name)
            self._reachable[metric] = frozenset(names)
        return self._reachable[metric]

    @staticmethod
    def _primary_of(models: dict[str, dict], info: DimensionInfo) -> str | None:
        model = models.get(info.semantic_model or "")
        primary = next(
            (e for e in (model or {}).get("entities", []) if e["type"] == "primary"), None
        )
        return primary["name"] if primary else None

    # --- compiling -------------------------------------------------------------------------
    def _engine(self, dialect: str):
        with self._lock:
            if dialect not in self._engines:
                from metricflow.engine.metricflow_engine import MetricFlowEngine

                self._engines[dialect] = MetricFlowEngine(self._lookup, _CompileOnly(dialect))
            return self._engines[dialect]

    def compile(self, query: MetricQuery, dialect: str) -> str:
        """The SQL MetricFlow writes for `query` in `dialect` (comments stripped)."""
        from metricflow.engine.metricflow_engine import MetricFlowQueryRequest

        unknown = [m for m in query.metrics if m not in self.metrics]
        if unknown or not query.metrics:
            raise SemanticError(
                f"unknown metric(s) {', '.join(unknown) or '(none given)'}: the metrics are "
                f"{', '.join(sorted(self.metrics))}"
            )
        where = [self._where(f) for f in query.filters]
        request = MetricFlowQueryRequest.create(
            metric_names=query.metrics,
            group_by_names=query.group_by or None,
            where_constraints=where or None,
            time_constraint_start=(
                dt.datetime.combine(query.start, dt.time()) if query.start else None
            ),
            time_constraint_end=(dt.datetime.combine(query.end, dt.time()) if query.end else None),
            order_by_names=_tie_broken(query) or None,
            limit=query.limit,
        )
        try:
            with self._lock:
                result = self._engine(dialect).explain(request)
                sql = result.sql_statement.sql
        except Exception as error:  # MetricFlow's errors have no common root
            detail = " ".join(str(error).split())[:400]
            raise SemanticError(f"MetricFlow cannot compile {query.to_dict()}: {detail}") from None
        return _COMMENT.sub("", sql).strip()

    def _where(self, item: Filter) -> str:
        info = self.dimensions.get(item.dimension)
        if info is None:
            raise SemanticError(f"unknown dimension {item.dimension!r} in a filter")
        call = "Entity" if info.kind == "entity" else "Dimension"
        values = ", ".join("'" + str(v).replace("'", "''") + "'" for v in item.values)
        if not item.values:
            raise SemanticError(f"filter on {item.dimension} without values")
        operator = f"= {values}" if len(item.values) == 1 else f"IN ({values})"
        return f"{{{{ {call}('{info.name}') }}}} {operator}"


def _tie_broken(query: MetricQuery) -> list[str]:
    """The query's order, then its group-by names: rows that tie on the order (two reasons
    with as many dead letters) come in one order, so a LIMIT keeps the same ones every run."""
    if not query.order_by and not query.limit:
        return []
    named = {name.lstrip("-") for name in query.order_by}
    return query.order_by + [name for name in query.group_by if name not in named]


@functools.lru_cache(maxsize=4)
def _cached_layer(path: str, mtime_ns: int) -> SemanticLayer:
    return SemanticLayer(json.loads(Path(path).read_text()))
