"""The behaviour every VectorStore backend owes the service. A backend's test module
subclasses StoreContract and provides the `store` fixture (an empty store)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from rag_assistant.embedding.hashing import HashingEmbedder
from rag_assistant.errors import ModelMismatchError
from rag_assistant.models import Chunk, Document, DocumentStatus
from rag_assistant.store.base import VectorStore

EMBEDDER = HashingEmbedder(dimension=64)


def make_document(document_id: str, created_at: str = "2026-01-01T00:00:00.000Z", **kw) -> Document:
    defaults = dict(
        file_name=f"{document_id}.txt", source=f"file:///{document_id}.txt", content_hash="h" * 64,
        status=DocumentStatus.READY, chunk_count=0, size_bytes=10, media_type="text/plain",
        embedding_model=EMBEDDER.name, created_at=created_at, updated_at=created_at,
    )
    defaults.update(kw)
    return Document(document_id=document_id, **defaults)


def make_chunks(document_id: str, texts: list[str], version: str = "v1") -> list[Chunk]:
    return [
        Chunk(chunk_id=f"{document_id}:{version}:{i:05d}", document_id=document_id, index=i,
              text=t, page=i + 1, page_end=i + 1, heading=None, token_count=len(t.split()))
        for i, t in enumerate(texts)
    ]


def put(store: VectorStore, document_id: str, texts: list[str], version: str = "v1", **kw) -> Document:
    chunks = make_chunks(document_id, texts, version)
    document = make_document(document_id, chunk_count=len(chunks), **kw)
    store.replace_chunks(document, chunks, EMBEDDER.embed_documents(texts))
    return document


class StoreContract:
    @pytest.fixture()
    def store(self) -> VectorStore:  # pragma: no cover - each backend overrides it
        raise NotImplementedError

    @pytest.fixture()
    def bound(self, store: VectorStore) -> VectorStore:
        store.bind_model(EMBEDDER.name, EMBEDDER.dimension)
        return store

    def test_is_a_vector_store(self, store) -> None:
        assert isinstance(store, VectorStore)

    def test_refuses_a_second_embedding_model(self, bound) -> None:
        bound.bind_model(EMBEDDER.name, EMBEDDER.dimension)  # same model: fine
        with pytest.raises(ModelMismatchError, match="EMBEDDING_MODEL_NAME"):
            bound.bind_model("other/model", 384)

    def test_checking_the_model_records_nothing(self, store) -> None:
        store.bind_model(EMBEDDER.name, EMBEDDER.dimension, claim=False)  # empty: nothing to check
        store.bind_model("other/model", 384)  # so the first writer's model wins
        with pytest.raises(ModelMismatchError):
            store.bind_model(EMBEDDER.name, EMBEDDER.dimension, claim=False)

    def test_search_ranks_the_matching_chunk_first(self, bound) -> None:
        put(bound, "doc_a", ["zero trust network access", "bread flour water salt"])
        put(bound, "doc_b", ["software development framework practices"])
        hits = bound.search(EMBEDDER.embed_query("zero trust access"), 3)
        assert [h.chunk.chunk_id for h in hits][0] == "doc_a:v1:00000"
        assert hits[0].file_name == "doc_a.txt" and hits[0].chunk.page == 1
        assert hits[0].score == pytest.approx(max(h.score for h in hits))
        assert all(-1.0001 <= h.score <= 1.0001 for h in hits)
        assert len(bound.search(EMBEDDER.embed_query("anything"), 2)) == 2

    def test_keyword_search_finds_words_and_ignores_query_syntax(self, bound) -> None:
        put(bound, "doc_a", ["the policy engine decides", "the policy administrator executes"])
        hits = bound.keyword_search('engine AND "policy" OR (NEAR', 5)
        assert hits and hits[0].chunk.text == "the policy engine decides"
        assert bound.keyword_search("!!! ???", 5) == []

    def test_replacing_a_document_swaps_all_its_chunks(self, bound) -> None:
        put(bound, "doc_a", ["old one", "old two", "old three"], version="v1")
        put(bound, "doc_a", ["new text only"], version="v2")
        assert [c.text for c in bound.get_chunks("doc_a")] == ["new text only"]
        assert bound.count_chunks() == 1
        assert {h.chunk.text for h in bound.search(EMBEDDER.embed_query("old one"), 10)} == {"new text only"}
        assert bound.keyword_search("old", 10) == []

    def test_a_failed_write_leaves_the_previous_version_intact(self, bound) -> None:
        put(bound, "doc_a", ["version one text"], version="v1")
        chunks = make_chunks("doc_a", ["v2 a", "v2 b"], "v2")
        bad_vectors = np.zeros((2, EMBEDDER.dimension + 1), dtype=np.float32)  # wrong dimension
        with pytest.raises(ValueError, match="dimension"):
            bound.replace_chunks(make_document("doc_a", chunk_count=2), chunks, bad_vectors)
        assert [c.text for c in bound.get_chunks("doc_a")] == ["version one text"]
        assert bound.get_document("doc_a").chunk_count == 1

    def test_documents_page_newest_first_with_a_stable_cursor(self, bound) -> None:
        for i in range(5):
            put(bound, f"doc_{i}", [f"text {i}"], created_at=f"2026-01-0{i + 1}T00:00:00.000Z")
        # Same timestamp: the id breaks the tie (descending, like the DynamoDB index's sort key).
        put(bound, "doc_5", ["text 5"], created_at="2026-01-05T00:00:00.000Z")
        seen, cursor = [], None
        while True:
            page, cursor = bound.list_documents(limit=2, cursor=cursor)
            assert len(page) <= 2
            seen += [d.document_id for d in page]
            if cursor is None:
                break
        assert seen == ["doc_5", "doc_4", "doc_3", "doc_2", "doc_1", "doc_0"]

    def test_a_made_up_cursor_is_rejected(self, bound) -> None:
        with pytest.raises(ValueError):
            bound.list_documents(limit=2, cursor="not-a-cursor")

    def test_status_only_upsert_and_get(self, store) -> None:
        failed = make_document("doc_f", status=DocumentStatus.FAILED, error="the file is empty")
        store.upsert_document(failed)
        got = store.get_document("doc_f")
        assert got == failed
        assert store.get_document("missing") is None

    def test_delete_removes_document_and_chunks(self, bound) -> None:
        put(bound, "doc_a", ["alpha text"])
        put(bound, "doc_b", ["bravo text"])
        assert bound.delete_document("doc_a") is True
        assert bound.delete_document("doc_a") is False
        assert bound.get_document("doc_a") is None and bound.get_chunks("doc_a") == []
        assert {h.chunk.document_id for h in bound.search(EMBEDDER.embed_query("alpha"), 10)} == {"doc_b"}

    def test_unicode_text_round_trips(self, bound) -> None:
        put(bound, "doc_k", ["제로 트러스트 아키텍처 — 원칙 ①", "emoji 🚀 and NUL-free"])
        assert [c.text for c in bound.get_chunks("doc_k")][0] == "제로 트러스트 아키텍처 — 원칙 ①"

    def test_readers_never_see_half_a_document(self, bound) -> None:
        put(bound, "doc_a", [f"first version chunk {i}" for i in range(20)], version="v1")
        stop = threading.Event()
        seen_counts: set[int] = set()
        reads = [0]

        def reader() -> None:
            while not stop.is_set() or reads[0] == 0:
                seen_counts.add(len(bound.get_chunks("doc_a")))
                reads[0] += 1

        thread = threading.Thread(target=reader)
        thread.start()
        try:
            for round_ in range(10):
                n = 20 if round_ % 2 else 30
                put(bound, "doc_a", [f"round {round_} chunk {i}" for i in range(n)], version=f"r{round_}")
        finally:
            stop.set()
            thread.join()
        # The reader ran (an idle reader would prove nothing) and only ever saw whole versions.
        assert reads[0] > 0 and seen_counts and seen_counts <= {20, 30}


class LeaseContract:
    """Mixed into StoreContract subclasses: the ingestion lease."""

    def test_a_document_lease_is_exclusive_until_released_or_expired(self, store) -> None:
        assert store.lock_document("doc_a", "worker-1", 60) is True
        assert store.lock_document("doc_a", "worker-2", 60) is False
        assert store.lock_document("doc_b", "worker-2", 60) is True  # other documents are free
        store.unlock_document("doc_a", "worker-2")  # not the holder: no effect
        assert store.lock_document("doc_a", "worker-2", 60) is False
        store.unlock_document("doc_a", "worker-1")
        assert store.lock_document("doc_a", "worker-2", 60) is True
        assert store.lock_document("doc_c", "worker-1", -1) is True  # already expired
        assert store.lock_document("doc_c", "worker-2", 60) is True
