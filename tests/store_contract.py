"""The behaviour every VectorStore backend owes the service. A backend's test module
subclasses StoreContract and provides the `store` fixture (an empty store)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from rag_assistant.embedding.hashing import HashingEmbedder
from rag_assistant.errors import LeaseLostError, ModelMismatchError
from rag_assistant.models import Chunk, Document, DocumentStatus
from rag_assistant.store.base import VectorStore, new_lease_owner

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

    def test_a_lease_of_a_process_that_ended_is_free_even_when_its_pid_was_reused(self, store) -> None:
        import os
        import subprocess
        import sys

        def forged(**changes: str) -> str:
            parts = dict(zip(["tag", "host", "boot", "pid", "started", "nonce"], new_lease_owner().split("|"),
                             strict=True))
            parts.update(changes)
            return "|".join(parts.values())

        # A holder that runs (this process) keeps its lease.
        assert store.lock_document("doc_live", new_lease_owner(), 900) is True
        assert store.lock_document("doc_live", new_lease_owner(), 900) is False
        # The PID of the holder now belongs to a live process started at another time (here:
        # this test's own PID with another start time): the holder is gone, the lease is free.
        assert store.lock_document("doc_reused", forged(pid=str(os.getpid()), started="1"), 900) is True
        taker = new_lease_owner()
        assert store.lock_document("doc_reused", taker, 900) is True
        assert store.lock_document("doc_reused", new_lease_owner(), 900) is False  # the new holder keeps it
        # A holder whose PID no longer runs at all.
        ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                               text=True, check=True)
        assert store.lock_document("doc_dead", forged(pid=ended.stdout.strip()), 900) is True
        assert store.lock_document("doc_dead", new_lease_owner(), 900) is True
        # Another machine's (or another boot's) process cannot be checked: its lease lasts to expiry.
        assert store.lock_document("doc_far", forged(host="another-host", pid="1", started="1"), 900) is True
        assert store.lock_document("doc_far", new_lease_owner(), 900) is False
        assert store.lock_document("doc_old_boot", forged(boot="an-earlier-boot", pid="1", started="1"), 900)
        assert store.lock_document("doc_old_boot", new_lease_owner(), 900) is False

    def test_a_delete_during_indexing_wins(self, store) -> None:
        store.bind_model(EMBEDDER.name, EMBEDDER.dimension)
        put(store, "doc_a", ["version one of the runbook"], version="v1")
        put(store, "doc_b", ["another document stays"], version="v1")

        indexer = new_lease_owner()
        assert store.lock_document("doc_a", indexer, 900)
        # ... the indexer parses and embeds version two; meanwhile a DELETE arrives:
        assert store.delete_document("doc_a") is True
        new_chunks = make_chunks("doc_a", ["version two of the runbook", "more of it"], "v2")
        with pytest.raises(LeaseLostError):
            store.replace_chunks(make_document("doc_a", chunk_count=2), new_chunks,
                                 EMBEDDER.embed_documents([c.text for c in new_chunks]), lease_owner=indexer)
        with pytest.raises(LeaseLostError):  # nor may it record a failure
            store.upsert_document(make_document("doc_a", status=DocumentStatus.FAILED, error="x"),
                                  lease_owner=indexer)
        assert store.get_document("doc_a") is None and store.get_chunks("doc_a") == []
        assert {h.chunk.document_id for h in store.search(EMBEDDER.embed_query("version of the runbook"), 10)} \
            == {"doc_b"}
        assert store.keyword_search("runbook", 10) == [] and store.count_chunks() == 1
        store.unlock_document("doc_a", indexer)  # what the indexer does last: harmless now

        # A first version in flight is fenced off the same way, and the DELETE reports it.
        first = new_lease_owner()
        assert store.lock_document("doc_new", first, 900)
        assert store.delete_document("doc_new") is True
        with pytest.raises(LeaseLostError):
            put_under_lease(store, "doc_new", ["never visible"], first)
        assert store.get_document("doc_new") is None and store.get_chunks("doc_new") == []
        assert store.delete_document("doc_new") is False  # nothing left to delete

        # Later uploads index normally; the lease-checked commit is the ordinary path.
        again = new_lease_owner()
        assert store.lock_document("doc_a", again, 900)
        put_under_lease(store, "doc_a", ["version three"], again, version="v3")
        store.upsert_document(store.get_document("doc_a"), lease_owner=again)
        store.unlock_document("doc_a", again)
        assert [c.text for c in store.get_chunks("doc_a")] == ["version three"]
        assert store.count_chunks() == 2

    def test_a_delete_during_batch_indexing_drops_only_that_document(self, store) -> None:
        store.bind_model(EMBEDDER.name, EMBEDDER.dimension)
        put(store, "doc_gone", ["version one of the gone note"], version="v1")
        owners = {d: new_lease_owner() for d in ("doc_gone", "doc_kept", "doc_free")}
        for document_id, owner in owners.items():
            assert store.lock_document(document_id, owner, 900)
        # ... the batch is embedded; meanwhile a DELETE of one of its documents arrives:
        assert store.delete_document("doc_gone") is True
        batch = []
        for document_id, text in [("doc_gone", "version two of the gone note"), ("doc_kept", "a kept note"),
                                  ("doc_free", "a note outside the leases")]:
            chunks = make_chunks(document_id, [text], "v2")
            batch.append((make_document(document_id, chunk_count=1), chunks, EMBEDDER.embed_documents([text])))
        lost = store.replace_documents(batch, lease_owners={d: o for d, o in owners.items() if d != "doc_free"})
        assert lost == ["doc_gone"]
        assert store.get_document("doc_gone") is None and store.get_chunks("doc_gone") == []
        assert [c.text for c in store.get_chunks("doc_kept")] == ["a kept note"]
        assert [c.text for c in store.get_chunks("doc_free")] == ["a note outside the leases"]
        assert {h.chunk.document_id for h in store.keyword_search("note", 10)} == {"doc_kept", "doc_free"}


def put_under_lease(store: VectorStore, document_id: str, texts: list[str], owner: str,
                    version: str = "v1") -> None:
    chunks = make_chunks(document_id, texts, version)
    store.replace_chunks(make_document(document_id, chunk_count=len(chunks)), chunks,
                         EMBEDDER.embed_documents(texts), lease_owner=owner)
