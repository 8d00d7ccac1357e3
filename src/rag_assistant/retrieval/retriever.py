"""Query text to ranked chunks: dense (cosine), keyword (BM25), or both fused.

Fusion is a convex combination of per-query normalised scores (dense cosine min-max
scaled over the candidates, BM25 divided by its best score): unlike plain reciprocal rank
fusion it keeps how *much* better the top keyword match is, which matters on
keyword-heavy questions (SQuAD), and it lets a weight express how far each ranking is
trusted. The weight is chosen on SciFact's training queries (docs/BENCHMARKS.md); when the
embedding model cannot read the query's script (MiniLM and Korean), the keyword ranking
carries the query alone.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

from ..embedding.base import Embedder
from ..models import SearchHit
from ..store.base import VectorStore
from ..text.language import is_korean

Mode = Literal["hybrid", "dense", "keyword", "rrf"]
MODES: tuple[str, ...] = ("hybrid", "dense", "keyword", "rrf")


def unreadable_by(embedder: Embedder, query: str) -> bool:
    """True when the model was not trained on the query's script (MiniLM: English only)."""
    if getattr(embedder, "multilingual", False):
        return False
    return is_korean(query)


class Retriever:
    def __init__(
        self,
        store: VectorStore,
        embedder: Embedder,
        *,
        mode: Mode = "hybrid",
        dense_weight: float = 0.5,
        candidates: int = 50,
        rrf_k: int = 60,
    ) -> None:
        self._store = store
        self._embedder = embedder
        self.mode = mode
        self.dense_weight = dense_weight
        self._candidates = candidates
        self._rrf_k = rrf_k

    def search(self, query: str, top_k: int, *, mode: Mode | None = None) -> list[SearchHit]:
        mode = mode or self.mode
        if mode == "keyword":
            return self._store.keyword_search(query, top_k)
        if mode == "dense":
            return self._store.search(self._embedder.embed_query(query), top_k)
        pool = max(self._candidates, top_k * 2)
        if unreadable_by(self._embedder, query):
            keyword = self._store.keyword_search(query, pool)
            top = keyword[0].score if keyword else 1.0
            return [replace(hit, score=hit.score / top) for hit in keyword[:top_k]]
        dense, keyword = self._store.hybrid_candidates(self._embedder.embed_query(query), query, pool)
        if mode == "rrf":
            return _rrf(dense, keyword, top_k, self._rrf_k)
        return _convex(dense, keyword, top_k, self.dense_weight)


def _rrf(dense: list[SearchHit], keyword: list[SearchHit], top_k: int, k: int) -> list[SearchHit]:
    scores: dict[str, float] = {}
    hits: dict[str, SearchHit] = {}
    for ranking in (dense, keyword):
        for rank, hit in enumerate(ranking, start=1):
            key = hit.chunk.chunk_id
            scores[key] = scores.get(key, 0.0) + 1.0 / (k + rank)
            hits.setdefault(key, hit)
    best = sorted(scores, key=lambda key: -scores[key])[:top_k]
    return [replace(hits[key], score=scores[key]) for key in best]


def _convex(dense: list[SearchHit], keyword: list[SearchHit], top_k: int, weight: float) -> list[SearchHit]:
    scores: dict[str, float] = {}
    hits: dict[str, SearchHit] = {}
    if dense:
        high, low = dense[0].score, dense[-1].score
        span = (high - low) or 1.0
        for hit in dense:
            scores[hit.chunk.chunk_id] = weight * (hit.score - low) / span
            hits[hit.chunk.chunk_id] = hit
    if keyword:
        top = keyword[0].score or 1.0
        for hit in keyword:
            key = hit.chunk.chunk_id
            scores[key] = scores.get(key, 0.0) + (1 - weight) * hit.score / top
            hits.setdefault(key, hit)
    best = sorted(scores, key=lambda key: -scores[key])[:top_k]
    return [replace(hits[key], score=scores[key]) for key in best]
