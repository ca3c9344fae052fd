"""`stack agent index`: what the agent can search, from the warehouse into Chroma.

One persistent collection under STACK_HOME/agent/chroma holds:
- `document`: each current PDF's text, per page (long pages in line-aligned chunks), with
  kind, account or vendor, dates, file and page as metadata;
- `model` / `column` / `metric`: the dbt models' and columns' descriptions (dbt's manifest)
  and the semantic layer's metrics;
- `merchant`: each merchant with its usual category and activity;
- `dead_letter_reason` / `reject_reason` / `failed_file`: why events, rows and files were
  refused, with counts and an example.

Incremental: every entry's id is stable (`document:<sha256>:<page>:<chunk>`, `model:<name>`,
...) and its metadata holds the sha256 of its text and metadata: a rerun embeds only entries
that are new or changed, and deletes the ids the warehouse no longer has.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from stack.agent.warehouse import Warehouse, open_warehouse
from stack.errors import StackError
from stack.progress import OnEvent, Reporter
from stack.settings import Settings

log = logging.getLogger(__name__)

COLLECTION = "stack"
CHUNK_CHARS = 1000  # about 250 tokens: MiniLM reads 256
UPSERT_BATCH = 256


@dataclass
class Entry:
    id: str
    text: str
    metadata: dict  # str | int | float | bool values only (Chroma)

    @property
    def digest(self) -> str:
        payload = json.dumps([self.text, self.metadata], sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()


@dataclass
class IndexSummary:
    path: str
    collection: str
    entries: int = 0  # in the collection afterwards
    by_source: dict[str, int] = field(default_factory=dict)
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    embedded: int = 0
    embed_seconds: float = 0.0
    seconds: float = 0.0

    @property
    def chunks_per_second(self) -> float:
        return self.embedded / self.embed_seconds if self.embed_seconds else 0.0

    def to_dict(self) -> dict:
        data = asdict(self)
        data["chunks_per_second"] = round(self.chunks_per_second, 1)
        return data


def chroma_path(settings: Settings) -> Path:
    return settings.stack_home / "agent" / "chroma"


def open_collection(settings: Settings, embedding=None):
    """The persistent collection (created empty if missing), telemetry off."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    from stack.agent.embeddings import MiniLMEmbedding

    path = chroma_path(settings)
    path.mkdir(parents=True, exist_ok=True)
    client = chromadb.PersistentClient(
        path=str(path), settings=ChromaSettings(anonymized_telemetry=False)
    )
    return client.get_or_create_collection(
        COLLECTION,
        embedding_function=embedding or MiniLMEmbedding(),
        metadata={"hnsw:space": "cosine"},
    )


def _day(value) -> int:
    """A date as yyyymmdd (Chroma filters compare numbers only); 0 when missing."""
    if isinstance(value, dt.datetime):
        value = value.date()
    return int(value.strftime("%Y%m%d")) if isinstance(value, dt.date) else 0


def _chunks(page: str) -> list[str]:
    """A page's text in pieces of at most CHUNK_CHARS, cut at line ends."""
    pieces, current = [], ""
    for line in page.splitlines():
        if current and len(current) + len(line) + 1 > CHUNK_CHARS:
            pieces.append(current)
            current = ""
        current = f"{current}\n{line}" if current else line[:CHUNK_CHARS]
    if current.strip():
        pieces.append(current)
    return pieces


def document_entries(warehouse: Warehouse) -> list[Entry]:
    entries = []
    for row in warehouse.document_texts():
        (doc_id, path, kind, account, vendor, start, end, issued, due, currency, total, text) = row
        pages = (text or "").split("\f")
        for page_no, page in enumerate(pages, 1):
            for chunk_no, chunk in enumerate(_chunks(page), 1):
                entries.append(
                    Entry(
                        f"document:{doc_id}:{page_no}:{chunk_no}",
                        chunk,
                        {
                            "source": "document",
                            "document_id": doc_id,
                            "file": path,
                            "page": page_no,
                            "pages": len(pages),
                            "chunk": chunk_no,
                            "kind": kind or "",
                            "account_id": account or "",
                            "vendor": vendor or "",
                            "period_start": _day(start),
                            "period_end": _day(end),
                            "issued_on": _day(issued),
                            "due_on": _day(due),
                            # an invoice's issue date, a statement's period end (as the
                            # semantic layer's document_date)
                            "document_date": _day(issued or end),
                            "currency": currency or "",
                            "total": float(total) if total is not None else 0.0,
                        },
                    )
                )
    return entries


def dbt_entries(settings: Settings) -> list[Entry]:
    """Models, their described columns, and the metrics, from dbt's manifests."""
    from stack.agent.semantic import SemanticLayer, manifest_path

    semantic_path = manifest_path(settings)
    manifest = json.loads((semantic_path.parent / "manifest.json").read_text())
    entries = []
    for node in manifest.get("nodes", {}).values():
        if node.get("resource_type") != "model":
            continue
        relation = f"{node['schema']}.{node['name']}"
        columns = node.get("columns", {})
        text = f"dbt model {relation}: {node.get('description') or '(no description)'}"
        if columns:
            text += f"\nColumns: {', '.join(columns)}"
        entries.append(
            Entry(f"model:{node['name']}", text, {"source": "model", "relation": relation})
        )
        for column, value in columns.items():
            if value.get("description"):
                entries.append(
                    Entry(
                        f"column:{node['name']}.{column}",
                        f"column {relation}.{column}: {value['description']}",
                        {"source": "column", "relation": relation, "column": column},
                    )
                )
    layer = SemanticLayer.load(settings)
    for metric in layer.metrics.values():
        entries.append(
            Entry(
                f"metric:{metric.name}",
                f"metric {metric.name} ({metric.label}): {metric.description} Also called: "
                f"{', '.join(metric.synonyms)}.",
                {"source": "metric", "metric": metric.name},
            )
        )
    return entries


def _rows(warehouse: Warehouse, sql: str) -> list[tuple]:
    """Rows of one of the index's own queries (an absent table: none)."""
    from stack.agent.warehouse import QueryFailed

    try:
        return warehouse.run(sql, limit=100_000, timeout=300).rows
    except QueryFailed:
        return []


def warehouse_entries(warehouse: Warehouse) -> list[Entry]:
    entries = []
    for name, group, transactions, accounts, first, last in _rows(
        warehouse,
        "SELECT merchant_name, primary_category_group, transactions, accounts, "
        "first_transaction_date, last_transaction_date FROM marts.dim_merchants",
    ):
        entries.append(
            Entry(
                f"merchant:{name}",
                f"merchant {name}: usually {group}; {transactions} transactions from {accounts} "
                f"accounts between {first} and {last}",
                {"source": "merchant", "merchant": name, "category_group": group or ""},
            )
        )
    for reason, count, example in _rows(
        warehouse,
        "SELECT reason, count(*), min(detail) FROM staging.stg_realtime__dead_letters "
        "GROUP BY reason",
    ):
        entries.append(
            Entry(
                f"dead_letter_reason:{reason}",
                f"realtime dead letters with reason {reason}: {count} events refused; "
                f"for example: {example}",
                {"source": "dead_letter_reason", "reason": reason, "count": int(count)},
            )
        )
    for reason, field_name, count, example in _rows(
        warehouse,
        "SELECT reason, coalesce(field_name, ''), count(*), min(detail) "
        "FROM intermediate.int_batch__current_rejects GROUP BY reason, coalesce(field_name, '')",
    ):
        entries.append(
            Entry(
                f"reject_reason:{reason}:{field_name}",
                f"batch CSV rows rejected with reason {reason}"
                + (f" (field {field_name})" if field_name else "")
                + f": {count} rows; for example: {example}",
                {"source": "reject_reason", "reason": reason, "count": int(count)},
            )
        )
    for path, reason, error in _rows(
        warehouse,
        "SELECT file_path, failure_reason, error FROM intermediate.int_batch__current_files "
        "WHERE last_status = 'failed'",
    ):
        entries.append(
            Entry(
                f"failed_file:{path}",
                f"batch file {path} was refused ({reason}): {error}",
                {"source": "failed_file", "file": path, "reason": reason or ""},
            )
        )
    return entries


def index(
    settings: Settings,
    *,
    target: str | None = None,
    batch_size: int | None = None,
    on_event: OnEvent | None = None,
) -> IndexSummary:
    """Bring the collection in line with the warehouse: embed what is new or changed, delete
    what is gone."""
    from stack.agent.embeddings import DEFAULT_BATCH, MiniLMEmbedding

    report = Reporter("index", on_event, log)
    started = time.monotonic()
    report.start(detail="reading the warehouse")
    warehouse = open_warehouse(settings, target)
    try:
        for notice in warehouse.notices:
            report.notice(notice)
        entries = document_entries(warehouse) + warehouse_entries(warehouse)
    finally:
        warehouse.close()
    entries += dbt_entries(settings)
    wanted = {entry.id: entry for entry in entries}  # a repeated id keeps its last version
    embedding = MiniLMEmbedding(batch_size=batch_size or DEFAULT_BATCH)
    collection = open_collection(settings, embedding)
    summary = IndexSummary(str(chroma_path(settings)), COLLECTION)
    existing = collection.get(include=["metadatas"])
    have = {
        id_: (meta or {}).get("hash")
        for id_, meta in zip(existing["ids"], existing["metadatas"], strict=True)
    }
    changed = [e for e in wanted.values() if have.get(e.id) != e.digest]
    summary.added = sum(1 for e in changed if e.id not in have)
    summary.updated = len(changed) - summary.added
    summary.unchanged = len(wanted) - len(changed)
    gone = [id_ for id_ in have if id_ not in wanted]
    if gone:
        collection.delete(ids=gone)
        summary.removed = len(gone)
    report.start("embedding", total=len(changed))
    for start in range(0, len(changed), UPSERT_BATCH):
        batch = changed[start : start + UPSERT_BATCH]
        began = time.monotonic()
        vectors = embedding([e.text for e in batch])
        summary.embed_seconds += time.monotonic() - began
        collection.upsert(
            ids=[e.id for e in batch],
            documents=[e.text for e in batch],
            metadatas=[{**e.metadata, "hash": e.digest} for e in batch],
            embeddings=vectors,
        )
        summary.embedded += len(batch)
        report.progress(summary.embedded, item="embedding", total=len(changed))
    summary.entries = collection.count()
    for entry in wanted.values():
        source = entry.metadata["source"]
        summary.by_source[source] = summary.by_source.get(source, 0) + 1
    summary.seconds = time.monotonic() - started
    report.done(done=summary.embedded)
    return summary


@dataclass
class Hit:
    id: str
    source: str
    text: str
    metadata: dict
    distance: float

    def to_dict(self) -> dict:
        return asdict(self)


def search(
    settings: Settings, query: str, *, k: int = 5, where: dict | None = None, collection=None
) -> list[Hit]:
    """The `k` entries nearest to `query` (cosine), optionally filtered on metadata."""
    collection = collection or open_collection(settings)
    if collection.count() == 0:
        raise StackError("the agent's index is empty: run `stack agent index` first")
    found = collection.query(query_texts=[query], n_results=k, where=where or None)
    return [
        Hit(id_, meta.get("source", ""), text, meta, float(distance))
        for id_, text, meta, distance in zip(
            found["ids"][0],
            found["documents"][0],
            found["metadatas"][0],
            found["distances"][0],
            strict=True,
        )
    ]
