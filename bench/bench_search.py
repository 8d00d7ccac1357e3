"""Local retrieval at 10k and 100k chunks on disk-backed data; writes its section of
docs/BENCHMARKS.md.

    RAG_SHARED_DIR=/work/shared .venv/bin/python bench/bench_search.py [--sizes 10000,100000]

Chunks: ~150-word texts made of real SciFact sentences, random unit 384-d vectors; queries:
SciFact's training questions. Measured in one process, interleaved per query:
  before    the previous store's path, rebuilt here with the same SQL: sqlite-vec KNN and
            FTS5 bm25() over the same terms (two queries per hybrid search)
  after     SqliteVectorStore.hybrid_candidates: the in-memory corpus index (float32 BLAS
            scan + numpy BM25 over stored terms), one freshness read of the change log
  numpy     a plain `matrix @ query` + argpartition over the same vectors (the floor)
and the start-up of a new process's index: from the rows, and from the snapshot.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "bench"))
SHARED = Path(os.environ.get("RAG_SHARED_DIR", REPO.parent / "shared"))

from report import write_section  # noqa: E402

from rag_assistant.models import Chunk, Document, DocumentStatus  # noqa: E402
from rag_assistant.store.sqlite_store import SqliteVectorStore  # noqa: E402
from rag_assistant.text.keywords import keyword_terms  # noqa: E402

DIM = 384
PER_DOC = 100
TOP = 50  # the retriever's candidate pool


def sentences() -> list[str]:
    found = []
    with gzip.open(SHARED / "data" / "scifact" / "corpus.jsonl.gz", "rt") as lines:
        for line in lines:
            found += [s.strip() + "." for s in json.loads(line)["text"].split(". ") if len(s) > 30]
    return found


def questions() -> list[str]:
    path = SHARED / "data" / "scifact" / "queries.train.jsonl"
    return [json.loads(line)["text"] for line in path.read_text().splitlines()]


def build(path: Path, n: int, pool: list[str], rng: np.random.Generator):
    """The same corpus twice: our store, and the previous layout (sqlite-vec + FTS5)."""
    import apsw
    import sqlite_vec

    picker = random.Random(n)
    vectors = rng.standard_normal((n, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    store = SqliteVectorStore(path / "index.sqlite3")
    store.bind_model("bench/random", DIM)
    old = apsw.Connection(str(path / "previous.sqlite3"))
    old.enable_load_extension(True)
    old.load_extension(sqlite_vec.loadable_path())
    old.execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL")
    old.execute("CREATE TABLE chunks (rowid INTEGER PRIMARY KEY, chunk_id TEXT, document_id TEXT, idx INTEGER, "
                "text TEXT, page INTEGER, page_end INTEGER, heading TEXT, token_count INTEGER, file_name TEXT)")
    old.execute("CREATE VIRTUAL TABLE chunks_fts USING fts5(keywords, content='', contentless_delete=1, "
                "tokenize='unicode61 remove_diacritics 0')")
    old.execute(f"CREATE VIRTUAL TABLE vec_chunks USING vec0(embedding float[{DIM}] distance_metric=cosine)")
    for d in range(n // PER_DOC):
        doc_id = f"doc_{d:06d}"
        texts = [" ".join(picker.sample(pool, 6)) for _ in range(PER_DOC)]
        chunks = [Chunk(f"{doc_id}:v:{i:05d}", doc_id, i, t, page=i + 1) for i, t in enumerate(texts)]
        block = vectors[d * PER_DOC : (d + 1) * PER_DOC]
        store.replace_chunks(Document(doc_id, f"{doc_id}.txt", doc_id, "h", DocumentStatus.READY, PER_DOC,
                                      created_at="2026-01-01T00:00:00.000Z", updated_at="2026-01-01T00:00:00.000Z"),
                             chunks, block)
        with old:
            for i, (chunk, vector) in enumerate(zip(chunks, block, strict=True)):
                rowid = d * PER_DOC + i + 1
                old.execute("INSERT INTO chunks VALUES (?,?,?,?,?,?,?,?,?,?)",
                            (rowid, chunk.chunk_id, doc_id, i, chunk.text, chunk.page, None, None, 0, f"{doc_id}.txt"))
                old.execute("INSERT INTO chunks_fts (rowid, keywords) VALUES (?, ?)",
                            (rowid, " ".join(keyword_terms(chunk.text))))
                old.execute("INSERT INTO vec_chunks (rowid, embedding) VALUES (?, ?)", (rowid, vector.tobytes()))
    return store, old, vectors


def previous_hybrid(old, vector: np.ndarray, question: str) -> None:
    """What SqliteVectorStore.search + keyword_search ran before (same SQL, same joins)."""
    list(old.execute(
        "WITH knn AS (SELECT rowid, distance FROM vec_chunks WHERE embedding MATCH ? AND k = ?) "
        "SELECT c.*, knn.distance FROM knn JOIN chunks c ON c.rowid = knn.rowid ORDER BY knn.distance",
        (vector.tobytes(), TOP)))
    terms = keyword_terms(question)
    if terms:
        match = " OR ".join('"' + t.replace('"', '""') + '"' for t in dict.fromkeys(terms))
        list(old.execute("SELECT c.*, bm25(chunks_fts) AS rank FROM chunks_fts JOIN chunks c "
                         "ON c.rowid = chunks_fts.rowid WHERE chunks_fts MATCH ? ORDER BY rank LIMIT ?",
                         (match, TOP)))


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def measure(n: int, pool: list[str], asked: list[str], rng: np.random.Generator) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp)
        started = time.perf_counter()
        store, old, vectors = build(path, n, pool, rng)
        built = time.perf_counter() - started
        store.close()

        # A new process's first query: the index from the rows, then (next start) from the snapshot.
        fresh = SqliteVectorStore(path / "index.sqlite3")
        started = time.perf_counter()
        fresh.search(vectors[0], 1)
        from_rows = time.perf_counter() - started
        fresh.close()
        snapshot_mb = fresh.snapshot_path.stat().st_size / 1e6 if fresh.snapshot_path.exists() else 0.0
        store = SqliteVectorStore(path / "index.sqlite3")
        started = time.perf_counter()
        store.search(vectors[0], 1)
        from_snapshot = time.perf_counter() - started

        queries = rng.standard_normal((len(asked), DIM)).astype(np.float32)
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
        times: dict[str, list[float]] = {"before": [], "after": [], "numpy": [], "after_dense": [], "after_bm25": []}
        previous_hybrid(old, queries[0], asked[0])  # page cache warm for both
        for q, text in zip(queries, asked, strict=True):
            for kind in ("before", "after", "numpy"):
                started = time.perf_counter()
                if kind == "before":
                    previous_hybrid(old, q, text)
                elif kind == "after":
                    store.hybrid_candidates(q, text, TOP)
                else:
                    scores = vectors @ q
                    np.argpartition(-scores, TOP)[:TOP]
                times[kind].append((time.perf_counter() - started) * 1000)
        corpus = store._current_corpus()
        for q, text in zip(queries, asked, strict=True):
            started = time.perf_counter()
            corpus.search(q, TOP)
            times["after_dense"].append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            corpus.keyword_search(text, TOP)
            times["after_bm25"].append((time.perf_counter() - started) * 1000)
        db_mb = sum(f.stat().st_size for f in path.glob("index.sqlite3*") if "corpus" not in f.name) / 1e6
        store.close()
        old.close()
    return {"n": n, "built": built, "from_rows": from_rows, "from_snapshot": from_snapshot,
            "snapshot_mb": snapshot_mb, "db_mb": db_mb, **times}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    pool = sentences()
    asked = random.Random(0).sample(questions(), args.queries)
    rng = np.random.default_rng(7)
    results = [measure(int(n), pool, asked, rng) for n in args.sizes.split(",")]
    rows, details = [], []
    for r in results:
        before50, before95 = pct(r["before"], 50), pct(r["before"], 95)
        after50, after95 = pct(r["after"], 50), pct(r["after"], 95)
        rows.append(f"| {r['n']:,} | {before50:.1f} / {before95:.1f} | **{after50:.1f} / {after95:.1f}** "
                    f"| {pct(r['numpy'], 50):.1f} / {pct(r['numpy'], 95):.1f} | x{before50 / after50:.1f} "
                    f"| {after50 / pct(r['numpy'], 50):.1f}x |")
        details.append(f"| {r['n']:,} | {pct(r['after_dense'], 50):.1f} / {pct(r['after_dense'], 95):.1f} "
                       f"| {pct(r['after_bm25'], 50):.1f} / {pct(r['after_bm25'], 95):.1f} | {r['from_rows']:.2f} s "
                       f"| {r['from_snapshot']:.2f} s | {r['db_mb']:,.0f} MB + snapshot {r['snapshot_mb']:,.0f} MB |")
    lines = [
        "## Local retrieval at 10k and 100k chunks (disk-backed, hybrid)",
        "",
        "Command: `RAG_SHARED_DIR=/work/shared .venv/bin/python bench/bench_search.py` "
        f"({args.queries} SciFact training questions; chunks of 6 real SciFact sentences, random unit "
        f"384-d vectors; the {TOP} candidates of each ranking the hybrid fuses; interleaved per query)",
        "",
        "| chunks | before: sqlite-vec + FTS5, p50 / p95 ms (baseline) | after: in-memory index, p50 / p95 ms "
        "| plain numpy scan p50 / p95 ms | before / after | after / numpy |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        "| chunks | after, dense half p50 / p95 ms | after, BM25 half p50 / p95 ms | first query of a new "
        "process, index from rows | ... from the snapshot | on disk |",
        "|---|---|---|---|---|---|",
        *details,
        "",
    ]
    write_section("bench_search", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
