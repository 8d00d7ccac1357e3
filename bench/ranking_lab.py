"""A laboratory for ranking research: the product's own chunks of each benchmark corpus,
embedded once and cached in .cache/lab/*.npy, and rankings computed in memory, so that
dozens of variants (terms, BM25 parameters, fusion rules, rerankers) are compared in
seconds instead of re-indexing a store for each.

What is the product's and what is the lab's:
- chunks: parse_document + chunk_sections with the MiniLM token budget (200 / 32), exactly
  what ingestion stores;
- terms: rag_assistant.text.keywords (or a variant passed in);
- BM25: a plain in-memory BM25 here (Lucene's idf, like text/bm25.py), parameters free;
- fusion: rag_assistant.retrieval.fusion over SearchHit-free (id, score) lists;
- a document's score is its best chunk's (as `rag eval` does).

Data sets: "scifact" (train queries), "squad" (2,000 questions, seed 0, as bench_retrieval),
"korquad" (even-indexed articles' questions, all 964 paragraphs as the corpus; converted at
run time, never written to disk — CC BY-ND).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
SHARED = Path(os.environ.get("RAG_SHARED_DIR", REPO.parent / "shared"))
CACHE = REPO / ".cache" / "lab"

from rag_assistant.evaluation.beir import CorpusDoc, read_corpus, read_qrels, read_queries  # noqa: E402
from rag_assistant.evaluation.metrics import ndcg_at, recall_at  # noqa: E402
from rag_assistant.evaluation.squad import article_of, read_squad  # noqa: E402

CHUNK_SIZE, CHUNK_OVERLAP = 200, 32


@dataclass
class Dataset:
    name: str
    corpus: list[CorpusDoc]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    chunk_texts: list[str] = field(default_factory=list)
    chunk_doc: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))

    @property
    def query_ids(self) -> list[str]:
        return list(self.queries)


def load(name: str, *, held_out: bool = False) -> Dataset:
    data = SHARED / "data"
    if name == "scifact":
        corpus = read_corpus(data / "scifact" / "corpus.jsonl.gz")
        queries = read_queries(data / "scifact" / "queries.train.jsonl")
        qrels = read_qrels(data / "scifact" / "qrels" / "train.tsv")
    elif name == "squad":
        corpus = read_corpus(data / "squad-v1.1" / "corpus.jsonl.gz")
        queries = read_queries(data / "squad-v1.1" / "queries.jsonl.gz")
        qrels = read_qrels(data / "squad-v1.1" / "qrels" / "test.tsv")
        chosen = sorted(random.Random(0).sample(sorted(q for q in queries if q in qrels), 2000))
        queries = {q: queries[q] for q in chosen}
    elif name == "korquad":
        corpus, queries, qrels, _ = read_squad(data / "korquad" / "KorQuAD_v1.0_dev.json")
        # Even articles are where settings are chosen; odd ones are the held-out check.
        wanted = 1 if held_out else 0
        queries = {q: t for q, t in queries.items() if q in qrels
                   and article_of(next(iter(qrels[q]))) % 2 == wanted}
    else:
        raise ValueError(name)
    queries = {q: t for q, t in queries.items() if q in qrels}
    dataset = Dataset(name, corpus, queries, qrels)
    dataset.chunk_texts, dataset.chunk_doc = _chunks(dataset)
    return dataset


def _chunks(dataset: Dataset) -> tuple[list[str], np.ndarray]:
    """The chunks ingestion makes of each corpus document (embedding_text), cached. KorQuAD's
    chunks are text derived from the corpus: kept in memory only."""
    cache = CACHE / f"{dataset.name}-chunks-{CHUNK_SIZE}-{CHUNK_OVERLAP}.json"
    if dataset.name != "korquad" and cache.exists():
        stored = json.loads(cache.read_text())
        return stored["texts"], np.array(stored["doc"], dtype=np.int32)
    from rag_assistant.embedding.registry import create_embedder
    from rag_assistant.ingestion.chunking import chunk_sections
    from rag_assistant.ingestion.parsing import parse_document

    counter = create_embedder("all-MiniLM-L6-v2", cache_dir=REPO / ".cache" / "models-lab")
    texts: list[str] = []
    docs: list[int] = []
    for i, doc in enumerate(dataset.corpus):
        body = f"{doc.title}\n\n{doc.text}" if doc.title else doc.text
        parsed = parse_document(f"{doc.doc_id}.txt", body.encode("utf-8"), max_bytes=10**8)
        for chunk in chunk_sections(doc.doc_id, "v", parsed.sections, counter, CHUNK_SIZE, CHUNK_OVERLAP):
            texts.append(chunk.embedding_text())
            docs.append(i)
    if dataset.name != "korquad":
        CACHE.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps({"texts": texts, "doc": docs}, ensure_ascii=False))
    return texts, np.array(docs, dtype=np.int32)


# --- embeddings -----------------------------------------------------------------------------


def embedder(model: str):
    from rag_assistant.embedding.registry import create_embedder

    return create_embedder(model, cache_dir=REPO / ".cache" / "models-lab")


def vectors(dataset: Dataset, model: str, what: str) -> np.ndarray:
    """Unit vectors of the chunks ("chunks") or queries ("queries") by `model`, cached. The
    cache of a derived KorQuAD text is a float array, not text."""
    texts = dataset.chunk_texts if what == "chunks" else list(dataset.queries.values())
    key = hashlib.sha256("\x1e".join(texts).encode()).hexdigest()[:12]
    path = CACHE / f"{dataset.name}-{what}-{model.replace('/', '_')}-{key}.npy"
    if path.exists():
        return np.load(path)
    started = time.perf_counter()
    matrix = embedder(model).embed_documents(texts) if what == "chunks" else _embed_queries(model, texts)
    print(f"  embedded {len(texts)} {dataset.name} {what} with {model} in {time.perf_counter() - started:.0f} s", flush=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, matrix.astype(np.float32))
    return matrix


def _embed_queries(model: str, texts: list[str]) -> np.ndarray:
    e = embedder(model)
    return np.vstack([e.embed_query(t) for t in texts]) if texts else np.zeros((0, e.dimension))


# --- BM25 ---------------------------------------------------------------------------------


class Bm25:
    """BM25 over pre-computed terms (Lucene idf, as text/bm25.py), scores as a dense array."""

    def __init__(self, docs_terms: Sequence[Sequence[str]], k1: float = 1.2, b: float = 0.75) -> None:
        self.n = len(docs_terms)
        lengths = np.array([len(t) for t in docs_terms], dtype=np.float64)
        avg = lengths.mean() if self.n else 1.0
        postings: dict[str, tuple[list[int], list[int]]] = {}
        for doc, terms in enumerate(docs_terms):
            for term, tf in Counter(terms).items():
                entry = postings.setdefault(term, ([], []))
                entry[0].append(doc)
                entry[1].append(tf)
        self._postings = {}
        norm = k1 * (1 - b + b * lengths / (avg or 1))
        for term, (ids, tfs) in postings.items():
            ids_a = np.array(ids, dtype=np.int32)
            tf_a = np.array(tfs, dtype=np.float64)
            idf = math.log(1 + (self.n - len(ids) + 0.5) / (len(ids) + 0.5))
            self._postings[term] = (ids_a, idf * tf_a * (k1 + 1) / (tf_a + norm[ids_a]))

    def scores(self, query_terms: Sequence[str], weights: dict[str, float] | None = None) -> np.ndarray:
        out = np.zeros(self.n)
        for term in set(query_terms):
            entry = self._postings.get(term)
            if entry is not None:
                out[entry[0]] += entry[1] * (weights.get(term, 1.0) if weights else 1.0)
        return out


# --- runs and scores --------------------------------------------------------------------------

#: A run: per query, (doc index, score) best first, documents only once (best chunk).
Run = list[list[tuple[int, float]]]


def doc_run(chunk_scores: np.ndarray, chunk_doc: np.ndarray, n_docs: int, depth: int = 100,
            present: np.ndarray | None = None) -> list[tuple[int, float]]:
    """Best chunk per document; only chunks that are in the ranking (present) count."""
    best = np.full(n_docs, -np.inf)
    if present is None:
        np.maximum.at(best, chunk_doc, chunk_scores)
    else:
        np.maximum.at(best, chunk_doc[present], chunk_scores[present])
    top = np.argsort(-best, kind="stable")[:depth]
    return [(int(d), float(best[d])) for d in top if np.isfinite(best[d])]


def evaluate(dataset: Dataset, run: Run) -> dict[str, float]:
    ids = [d.doc_id for d in dataset.corpus]
    ndcgs, recalls = [], []
    for query_id, ranked in zip(dataset.query_ids, run, strict=True):
        docs = [ids[d] for d, _ in ranked]
        ndcgs.append(ndcg_at(docs, dataset.qrels[query_id], 10))
        recalls.append(recall_at(docs, dataset.qrels[query_id], 100))
    return {"ndcg": float(np.mean(ndcgs)), "recall": float(np.mean(recalls)), "per_query": ndcgs}


def keyword_chunk_scores(dataset: Dataset, doc_terms: Callable[[str], list[str]],
                         query_terms: Callable[[str], list[str]], k1: float, b: float) -> list[np.ndarray]:
    index = Bm25([doc_terms(t) for t in dataset.chunk_texts], k1=k1, b=b)
    return [index.scores(query_terms(q)) for q in dataset.queries.values()]


def runs_from_chunk_scores(dataset: Dataset, all_scores: list[np.ndarray], depth: int = 100,
                           positive_only: bool = True) -> Run:
    out = []
    for scores in all_scores:
        present = scores > 0 if positive_only else None
        out.append(doc_run(scores, dataset.chunk_doc, len(dataset.corpus), depth, present))
    return out


def idf_table(index: Bm25) -> dict[str, float]:
    """term -> idf of an index (for query-side confidence measures)."""
    out = {}
    for term, (ids, _) in index._postings.items():
        out[term] = math.log(1 + (index.n - len(ids) + 0.5) / (len(ids) + 0.5))
    return out
