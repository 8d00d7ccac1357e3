"""Hybrid retrieval and the keyword terms behind it."""

from __future__ import annotations

from rag_assistant.embedding.hashing import HashingEmbedder
from rag_assistant.models import Chunk, SearchHit
from rag_assistant.text.keywords import keyword_terms
from rag_assistant.retrieval.retriever import Retriever, _convex, _rrf, unreadable_by


def test_keyword_terms_stem_english_and_bigram_korean() -> None:
    assert keyword_terms("The Architectures of trusted networks") == ["architectur", "trust", "network"]
    assert keyword_terms("제로 트러스트의 원칙") == ["제로", "트러", "러스", "스트", "트의", "원칙"]
    assert keyword_terms("백") == ["백"]
    # A particle changes the word but keeps most bigrams in common.
    assert set(keyword_terms("트러스트는")) & set(keyword_terms("트러스트를")) == {"트러", "러스", "스트"}


def hit(chunk_id: str, score: float) -> SearchHit:
    return SearchHit(Chunk(chunk_id, "d", 0, chunk_id), "f.txt", score)


def test_convex_fusion_keeps_score_margins_and_rrf_only_ranks() -> None:
    dense = [hit("a", 0.80), hit("b", 0.79), hit("c", 0.10)]
    keyword = [hit("b", 30.0), hit("d", 3.0)]
    fused = _convex(dense, keyword, 4, 0.5)
    assert [h.chunk.chunk_id for h in fused][:2] == ["b", "a"]
    assert fused[0].score > 0.9
    assert [h.chunk.chunk_id for h in _rrf(dense, keyword, 2, 60)] == ["b", "a"]


def test_queries_the_model_cannot_read_go_to_the_keyword_index() -> None:
    class EnglishOnly(HashingEmbedder):
        multilingual = False

    assert unreadable_by(EnglishOnly(), "제로 트러스트의 원칙은?")
    assert not unreadable_by(EnglishOnly(), "zero trust tenets (제로)")

    class Store:
        def keyword_search(self, query, top_k):
            return [hit("k1", 8.0), hit("k2", 4.0)]

        def search(self, vector, top_k):  # pragma: no cover - must not be called
            raise AssertionError("dense search used for an unreadable query")

    hits = Retriever(Store(), EnglishOnly()).search("백업은 언제 하나요?", 2)
    assert [(h.chunk.chunk_id, h.score) for h in hits] == [("k1", 1.0), ("k2", 0.5)]
