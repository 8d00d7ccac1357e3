"""Query text to ranked chunks: dense (cosine), keyword (BM25), or both fused.

Fusion (retrieval/fusion.py) adds the two rankings' scores, each standardised over its own
candidates for this query, with a dense weight per question language: English weights
are chosen on SciFact's training queries, Korean ones on KorQuAD's even articles
(docs/BENCHMARKS.md), where Hangul bigrams outrank a multilingual model by far. A passage in
another language than the question is judged by the dense side alone. When the embedding
model cannot read the query's script (MiniLM and Korean), the keyword ranking carries the
query alone.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

from ..embedding.base import Embedder
from ..models import SearchHit
from ..store.base import VectorStore
from ..text.language import is_korean
from . import fusion

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
        dense_weight_korean: float = 0.1,
        candidates: int = 50,
        rrf_k: int = 60,
    ) -> None:
        self._store = store
        self._embedder = embedder
        self.mode = mode
        self.dense_weight = dense_weight
        self.dense_weight_korean = dense_weight_korean
        self._candidates = candidates
        self._rrf_k = rrf_k

    def route(self, query: str, mode: Mode | None = None) -> Mode:
        """The ranking that actually runs for `query`: a fused mode falls back to keyword
        when the embedding model cannot read the query (MiniLM and Korean)."""
        mode = mode or self.mode
        if mode in ("hybrid", "rrf") and unreadable_by(self._embedder, query):
            return "keyword"
        return mode

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
            return _hits(fusion.rrf(_pairs(dense), _pairs(keyword), k=self._rrf_k), dense, keyword, top_k)
        korean = is_korean(query)
        other_language = [hit.chunk.chunk_id for hit in dense if is_korean(hit.chunk.text) != korean]
        fused = fusion.convex(_pairs(dense), _pairs(keyword), keyword_blind=other_language,
                              dense_weight=self.dense_weight_korean if korean else self.dense_weight)
        # Shown as a share of the best source's score (0-1], like the keyword-only route:
        # standardised sums have no fixed scale a reader could interpret.
        top = fused[0][1] if fused and fused[0][1] > 0 else 1.0
        return _hits([(key, score / top) for key, score in fused], dense, keyword, top_k)


def _pairs(hits: list[SearchHit]) -> list[tuple[str, float]]:
    return [(hit.chunk.chunk_id, hit.score) for hit in hits]


def _hits(fused: list[tuple[str, float]], dense: list[SearchHit], keyword: list[SearchHit], top_k: int) -> list[SearchHit]:
    by_id = {hit.chunk.chunk_id: hit for hit in keyword}
    by_id.update({hit.chunk.chunk_id: hit for hit in dense})
    return [replace(by_id[key], score=score) for key, score in fused[:top_k]]
