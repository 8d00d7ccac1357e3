"""Sentence embeddings with onnxruntime + tokenizers: mean pooling and L2 normalisation,
as sentence-transformers does for all-MiniLM-L6-v2. No torch at run time."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .base import normalize_rows

#: Query vectors remembered (a question is embedded by the retriever, then the answerer).
_RECENT_QUERIES = 16


def cpu_session(path: Path, threads: int) -> Any:
    """An onnxruntime session on the CPU, as every model of the product runs."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # shape-merge warnings are noise for users
    # Idle worker threads sleep instead of spinning: on a Lambda's fraction of a core, or beside
    # another model in one process, spinning steals the CPU the next run needs.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class OnnxSentenceEmbedder:
    """Cheap to construct; the tokenizer and the ONNX session load on first use."""

    #: all-MiniLM-L6-v2 was trained on English: other scripts become [UNK] tokens.
    multilingual = False

    def __init__(
        self,
        *,
        name: str,
        dimension: int,
        tokenizer_path: Path,
        model_path_factory: Any,
        max_tokens: int = 256,
        batch_size: int = 32,
        batch_tokens: int = 256,
        threads: int = 0,
    ) -> None:
        self.name = name
        self.dimension = dimension
        self.max_tokens = max_tokens
        self._tokenizer_path = tokenizer_path
        self._model_path_factory = model_path_factory
        self._batch_size = batch_size
        self._batch_tokens = batch_tokens
        self._threads = threads or min(4, os.cpu_count() or 1)
        self._lock = threading.Lock()
        self._tokenizer: Any = None
        self._counter: Any = None
        self._session: Any = None
        self._recent_queries: dict[str, np.ndarray] = {}

    # --- loading -------------------------------------------------------------------------

    def warm_up(self) -> None:
        self._ensure_session()

    def _ensure_tokenizers(self) -> None:
        if self._tokenizer is not None:
            return
        from tokenizers import Tokenizer

        with self._lock:
            if self._tokenizer is None:
                tokenizer = Tokenizer.from_file(str(self._tokenizer_path))
                tokenizer.enable_truncation(self.max_tokens)
                tokenizer.no_padding()
                self._tokenizer = tokenizer

    def _ensure_counter(self) -> None:
        """A second tokenizer without truncation, for the chunker only: a query never
        needs it, so a cold query function does not parse tokenizer.json twice."""
        if self._counter is not None:
            return
        from tokenizers import Tokenizer

        with self._lock:
            if self._counter is None:
                counter = Tokenizer.from_file(str(self._tokenizer_path))
                counter.no_truncation()
                counter.no_padding()
                self._counter = counter

    def _ensure_session(self) -> None:
        self._ensure_tokenizers()
        if self._session is not None:
            return
        with self._lock:
            if self._session is None:
                self._session = cpu_session(self._model_path_factory(), self._threads)

    # --- Embedder protocol ---------------------------------------------------------------

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        self._ensure_counter()
        encodings = self._counter.encode_batch(list(texts), add_special_tokens=False)
        return [len(e.ids) for e in encodings]

    def embed_query(self, text: str) -> np.ndarray:
        # The retriever and the answerer both embed the question: the second is free.
        cached = self._recent_queries.get(text)
        if cached is None:
            cached = self.embed_documents([text])[0]
            with self._lock:
                self._recent_queries[text] = cached
                while len(self._recent_queries) > _RECENT_QUERIES:
                    self._recent_queries.pop(next(iter(self._recent_queries)))
        return cached.copy()

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        self._ensure_session()
        encodings = self._tokenizer.encode_batch(list(texts))
        lengths = [len(e.ids) for e in encodings]
        # Length-sorted batches of a bounded padded size: on CPU, large batches of long
        # inputs are slower *and* bigger (attention matrices outgrow the caches); see
        # docs/BENCHMARKS.md for the measurements behind the token budget.
        order = sorted(range(len(texts)), key=lengths.__getitem__)
        result = np.empty((len(texts), self.dimension), dtype=np.float32)
        batch: list[int] = []
        for index in order:
            if batch and (len(batch) + 1) * lengths[index] > self._batch_tokens or len(batch) >= self._batch_size:
                result[batch] = self._embed_batch([encodings[i].ids for i in batch])
                batch = []
            batch.append(index)
        result[batch] = self._embed_batch([encodings[i].ids for i in batch])
        return result

    def _embed_batch(self, token_ids: list[list[int]]) -> np.ndarray:
        width = max(len(ids) for ids in token_ids)
        ids = np.zeros((len(token_ids), width), dtype=np.int64)
        mask = np.zeros((len(token_ids), width), dtype=np.int64)
        for row, seq in enumerate(token_ids):
            ids[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1
        (hidden,) = self._session.run(
            ["last_hidden_state"],
            {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
        )
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        return normalize_rows(pooled)
