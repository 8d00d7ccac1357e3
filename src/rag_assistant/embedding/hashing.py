"""A deterministic, dependency-free embedder for unit tests, demos and benchmarks of the
store. Words hash to fixed random directions (seeded from sha256), so texts that share
words are similar. It is never a default and never what a "real" test runs on."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from .base import normalize_rows

_WORD = re.compile(r"\w+", re.UNICODE)


class HashingEmbedder:
    max_tokens = 512

    def __init__(self, dimension: int = 64, name: str = "test/hashing") -> None:
        self.dimension = dimension
        self.name = f"{name}-{dimension}"
        self._cache: dict[str, np.ndarray] = {}

    def _word_vector(self, word: str) -> np.ndarray:
        vector = self._cache.get(word)
        if vector is None:
            seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "little")
            vector = np.random.default_rng(seed).standard_normal(self.dimension).astype(np.float32)
            self._cache[word] = vector
        return vector

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        rows = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                rows[i] += self._word_vector(word)
            if not rows[i].any():
                rows[i, 0] = 1.0
        return normalize_rows(rows)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]

    def warm_up(self) -> None:
        pass  # nothing to load

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        # Words and punctuation marks, like a word-piece tokenizer on plain prose.
        return [len(re.findall(r"\w+|[^\w\s]", t)) for t in texts]
