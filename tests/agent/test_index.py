"""The index: a Chroma embedding function that runs offline, and incremental reruns."""

from __future__ import annotations

import duckdb
import numpy as np
from chromadb import EmbeddingFunction

from stack.agent.embeddings import MiniLMEmbedding
from stack.agent.index import index, open_collection, search
from tests.agent.conftest import INJECTED_PATH


def test_the_embedding_function_is_chromas_and_embeds_offline():
    embed = MiniLMEmbedding(batch_size=2)

    vectors = np.array(embed(["invoice for office chairs", "office furniture bill", "a kitten"]))

    assert isinstance(embed, EmbeddingFunction)
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2
    one_by_one = np.array([MiniLMEmbedding(batch_size=1)([t])[0] for t in ["a kitten"]])
    assert np.allclose(one_by_one[0], vectors[2], atol=1e-4)


def test_the_index_holds_every_kind_of_entry(agent_settings, warehouse_rows):
    collection = open_collection(agent_settings)
    sources = {m["source"] for m in collection.get(include=["metadatas"])["metadatas"]}

    assert {"document", "model", "column", "metric", "merchant", "dead_letter_reason"} <= sources
    pages = collection.get(where={"file": INJECTED_PATH}, include=["metadatas"])["metadatas"]
    assert pages and pages[0]["kind"] == "invoice" and pages[0]["page"] == 1
    assert pages[0]["document_date"] == 20250420
    hits = search(agent_settings, "why were events sent to the dead letter queue", k=3)
    assert any(hit.source == "dead_letter_reason" for hit in hits)


def test_a_rerun_embeds_nothing_and_a_deleted_document_leaves(copied_home, warehouse_rows):
    settings = copied_home
    before = open_collection(settings).count()

    rerun = index(settings)

    assert (rerun.embedded, rerun.added, rerun.updated, rerun.removed) == (0, 0, 0, 0)
    assert rerun.unchanged == rerun.entries == before
    con = duckdb.connect(str(settings.warehouse_duckdb_path))
    con.execute("DELETE FROM marts.mart_documents WHERE file_path = ?", [INJECTED_PATH])
    con.close()

    after = index(settings)

    assert after.removed == 1 and after.embedded == 0
    assert after.entries == before - 1
    gone = open_collection(settings).get(where={"file": INJECTED_PATH})
    assert gone["ids"] == []
