"""The embedder seam. Every backend returns L2-normalised float32 rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Embedder(Protocol):
    #: Recorded in the store, which refuses vectors from any other model.
    name: str
    dimension: int
    #: Longest input the model reads, in tokens, special tokens included.
    max_tokens: int

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dimension) float32, unit length. Batches internally."""
        ...

    def embed_query(self, text: str) -> np.ndarray:
        """(dimension,) float32, unit length."""
        ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens per text as the model sees it, without special tokens (for the chunker)."""
        ...

    def warm_up(self) -> None:
        """Load what the first call would load (weights, sessions); cheap when done already."""
        ...


def normalize_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.clip(norms, 1e-12, None)).astype(np.float32, copy=False)
