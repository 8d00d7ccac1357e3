"""Query text to ranked chunks. Dense (cosine) ranking over the store's vectors."""

from __future__ import annotations

from ..embedding.base import Embedder
from ..models import SearchHit
from ..store.base import VectorStore


class Retriever:
    def __init__(self, store: VectorStore, embedder: Embedder) -> None:
        self._store = store
        self._embedder = embedder

    def search(self, query: str, top_k: int) -> list[SearchHit]:
        vector = self._embedder.embed_query(query)
        return self._store.search(vector, top_k)
