"""The ranking engine both stores search (store/corpus_index.py, text/bm25.py): scores
that do not depend on how the index was built, BM25 parameters per language, snapshots."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from rag_assistant.models import Chunk
from rag_assistant.store.corpus_index import CorpusIndex, DocumentRows
from rag_assistant.text.bm25 import BM25Index, BM25Parameters
from rag_assistant.text.keywords import keyword_terms

WORDS = ["policy", "engine", "access", "subject", "resource", "network", "identity", "device", "trust", "session", "gateway"]


def document(name: str, texts: list[str], dim: int = 8, version: str = "v1") -> DocumentRows:
    rng = np.random.default_rng(abs(hash((name, version))) % 2**32)
    vectors = rng.standard_normal((len(texts), dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    chunks = [Chunk(f"{name}:{version}:{i:05d}", name, i, t) for i, t in enumerate(texts)]
    return DocumentRows(name, version, f"{name}.txt", chunks, vectors)


def random_texts(rng: random.Random, n: int) -> list[str]:
    return [" ".join(rng.choices(WORDS, k=rng.randint(3, 12))) for _ in range(n)]


def test_scores_equal_a_fresh_index_whatever_the_history() -> None:
    """Many small updates, replacements and deletions (segments, masks, merges) rank and
    score exactly as one index built from the final corpus."""
    rng = random.Random(5)
    incremental = CorpusIndex(8)
    live: dict[str, DocumentRows] = {}
    for step in range(60):
        name = f"doc_{rng.randint(0, 25)}"
        if name in live and rng.random() < 0.3:
            incremental.update(remove=[name])
            del live[name]
        else:
            rows = document(name, random_texts(rng, rng.randint(1, 6)), version=f"v{step}")
            incremental.update([rows])
            live[name] = rows
    fresh = CorpusIndex(8)
    fresh.update(live.values())
    assert len(incremental) == len(fresh) == sum(len(d.chunks) for d in live.values())
    assert incremental.documents() == fresh.documents()
    for query in ("policy engine", "trust session gateway", "identity", "nothing matches"):
        a = [(h.chunk.chunk_id, round(h.score, 4)) for h in incremental.keyword_search(query, 10)]
        b = [(h.chunk.chunk_id, round(h.score, 4)) for h in fresh.keyword_search(query, 10)]
        assert a == b
    # ...and as the one-segment BM25 over the same chunks with their documents as groups
    # (passage aggregation counts only the live documents, whatever the segments).
    chunks = [c for d in live.values() for c in d.chunks]
    flat = BM25Index([c.text for c in chunks], groups=[c.document_id for c in chunks])
    for query in ("policy engine", "trust session gateway"):
        expected = {chunks[row].chunk_id: round(score, 4) for row, score in flat.search(query, len(chunks))}
        got = {h.chunk.chunk_id: round(h.score, 4) for h in incremental.keyword_search(query, len(chunks))}
        assert got == expected
    vector = fresh.search(np.ones(8, dtype=np.float32) / math.sqrt(8), 1)[0]
    assert incremental.search(np.ones(8, dtype=np.float32) / math.sqrt(8), 5)[0].chunk.chunk_id == vector.chunk.chunk_id


def test_bm25_matches_the_okapi_formula() -> None:
    texts = ["policy engine policy", "engine", "network access"]
    index = BM25Index(texts, parameters=BM25Parameters(k1=1.2, b=0.75, document_weight=0.0))
    n, avg = 3, (3 + 1 + 2) / 3
    df = 2  # "engine"
    idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
    expected = [idf * tf * 2.2 / (tf + 1.2 * (1 - 0.75 + 0.75 * length / avg)) for tf, length in ((1, 3), (1, 1))]
    scores = dict(index.search("engine", 5))
    assert scores[0] == pytest.approx(expected[0], rel=1e-5) and scores[1] == pytest.approx(expected[1], rel=1e-5)
    assert 2 not in scores


def test_parameters_apply_per_language() -> None:
    texts = ["제로 트러스트 아키텍처의 원칙", "제로 트러스트 제로 트러스트 정책 엔진", "zero trust zero trust policy"]
    plain = BM25Index(texts, parameters=BM25Parameters(by_language={}))
    korean_flat = BM25Index(texts, parameters=BM25Parameters(by_language={"ko": (1.2, 0.0)}))
    english = dict(plain.search("zero trust", 3))
    assert english == pytest.approx(dict(korean_flat.search("zero trust", 3)))  # English rows unchanged
    assert dict(plain.search("트러스트", 3)) != pytest.approx(dict(korean_flat.search("트러스트", 3)))


def test_the_term_function_is_a_parameter() -> None:
    index = CorpusIndex(8, terms=lambda text: text.lower().split())  # no stemming, no stop words
    index.update([document("doc_a", ["Engines of the policy"]), document("doc_b", ["engine"])])
    assert [h.chunk.document_id for h in index.keyword_search("engines", 5)] == ["doc_a"]
    default = CorpusIndex(8)
    default.update([document("doc_a", ["Engines of the policy"]), document("doc_b", ["engine"])])
    assert {h.chunk.document_id for h in default.keyword_search("engines", 5)} == {"doc_a", "doc_b"}
    assert keyword_terms("Engines") == ["engin"]


@pytest.mark.parametrize(("dim", "quantize"), [(8, False), (8, True), (0, True)])
def test_a_snapshot_round_trips(dim: int, quantize: bool) -> None:
    index = CorpusIndex(dim)
    index.update([document("doc_a", ["policy engine decides", "제로 트러스트"], dim=dim),
                  document("doc_b", ["network gateway"], dim=dim)], version=7)
    index.update(remove=["doc_b"], version=8)
    index.label = "table-1"
    loaded = CorpusIndex.from_bytes(index.to_bytes(quantize=quantize))
    assert (loaded.version, loaded.label, loaded.dimension, len(loaded)) == (8, "table-1", dim, 2)
    assert loaded.documents() == {"doc_a": "v1"}
    assert [h.chunk for h in loaded.keyword_search("트러스트", 1)] == [h.chunk for h in index.keyword_search("트러스트", 1)]
    if dim:
        query = index._state.segments[0].vectors[0]
        hit = loaded.search(query, 1)[0]
        assert hit.chunk.chunk_id == "doc_a:v1:00000" and hit.score == pytest.approx(1.0, abs=0.01 if quantize else 1e-6)
    loaded.update([document("doc_c", ["a later document"], dim=dim)])  # a loaded index keeps growing
    assert loaded.keyword_search("later", 1)[0].chunk.document_id == "doc_c"


def test_a_snapshot_of_another_format_or_term_function_is_refused(monkeypatch) -> None:
    index = CorpusIndex(8)
    index.update([document("doc_a", ["words"])])
    data = index.to_bytes()
    with pytest.raises(ValueError, match="not a corpus snapshot"):
        CorpusIndex.from_bytes(b"garbage")
    monkeypatch.setattr("rag_assistant.store.corpus_index.TERMS_VERSION", "999")
    with pytest.raises(ValueError, match="stale"):
        CorpusIndex.from_bytes(data)


def test_hits_from_an_external_index_keep_live_chunks_only() -> None:
    index = CorpusIndex(0)
    index.update([document("doc_a", ["one", "two"], dim=0, version="v2")])
    hits = index.hits_for([("doc_a", "doc_a:v2:00001", 0.9), ("doc_a", "doc_a:v1:00000", 0.8),
                           ("doc_gone", "doc_gone:v1:00000", 0.7)])
    assert [(h.chunk.text, h.score) for h in hits] == [("two", 0.9)]
