import pytest
from store_contract import EMBEDDER, LeaseContract, StoreContract, put

from rag_assistant.errors import ModelMismatchError
from rag_assistant.store.sqlite_store import SqliteVectorStore


class TestSqliteStore(StoreContract, LeaseContract):
    @pytest.fixture()
    def store(self, tmp_path):
        store = SqliteVectorStore(tmp_path / "index.sqlite3")
        yield store
        store.close()


def test_index_persists_and_remembers_its_model(tmp_path) -> None:
    path = tmp_path / "index.sqlite3"
    store = SqliteVectorStore(path)
    store.bind_model(EMBEDDER.name, EMBEDDER.dimension)
    put(store, "doc_a", ["persisted words"])
    store.close()

    reopened = SqliteVectorStore(path)
    try:
        assert reopened.count_chunks() == 1
        with pytest.raises(ModelMismatchError):
            reopened.bind_model("sentence-transformers/all-MiniLM-L6-v2", 384)
        hits = reopened.search(EMBEDDER.embed_query("persisted words"), 1)
        assert hits[0].chunk.text == "persisted words"
    finally:
        reopened.close()


def test_a_crash_mid_write_rolls_back_on_reopen(tmp_path) -> None:
    """Simulate a process killed inside the transaction: the journal rolls it back."""
    import multiprocessing as mp

    path = tmp_path / "index.sqlite3"
    store = SqliteVectorStore(path)
    store.bind_model(EMBEDDER.name, EMBEDDER.dimension)
    put(store, "doc_a", ["stable text"], version="v1")
    store.close()

    ctx = mp.get_context("fork")
    child = ctx.Process(target=_write_then_die, args=(str(path),))
    child.start()
    child.join(60)
    assert child.exitcode == 17

    reopened = SqliteVectorStore(path)
    try:
        assert [c.text for c in reopened.get_chunks("doc_a")] == ["stable text"]
        assert reopened.count_chunks() == 1
    finally:
        reopened.close()


def _write_then_die(path: str) -> None:
    import os

    store = SqliteVectorStore(path)
    calls = {"n": 0}

    def die_on_third_chunk(cursor, sql, bindings) -> bool:
        if sql.startswith("INSERT INTO chunks"):
            calls["n"] += 1
            if calls["n"] == 3:
                os._exit(17)  # no cleanup, no rollback: like a killed Lambda
        return True

    store._db.exec_trace = die_on_third_chunk
    put(store, "doc_a", [f"new chunk {i}" for i in range(5)], version="v2")


def test_a_lease_left_by_a_killed_process_is_free_at_once(tmp_path) -> None:
    import subprocess
    import sys

    path = tmp_path / "index.sqlite3"
    code = (
        "import sys; sys.path[:0] = sys.argv[2:]; from rag_assistant.store.sqlite_store import SqliteVectorStore; "
        "s = SqliteVectorStore(sys.argv[1]); assert s.lock_document('doc_a', 'dead-worker', 900)"
    )
    subprocess.run([sys.executable, "-c", code, str(path), *sys.path], check=True)  # exits holding it
    store = SqliteVectorStore(path)
    try:
        assert store.lock_document("doc_a", "new-worker", 900) is True
        assert store.lock_document("doc_a", "third-worker", 900) is False  # the live holder keeps it
    finally:
        store.close()


def test_connections_use_wal_without_an_fsync_per_commit(tmp_path) -> None:
    """WAL with synchronous=NORMAL: a commit is durable against a crashed process without an
    fsync each (which made every ingestion lease cost ~5 ms)."""
    store = SqliteVectorStore(tmp_path / "index.sqlite3")
    try:
        assert list(store._db.execute("PRAGMA journal_mode")) == [("wal",)]
        assert list(store._db.execute("PRAGMA synchronous")) == [(1,)]  # NORMAL
    finally:
        store.close()
