"""Index a BEIR corpus into the configured store, run every query through the same
retrieval as `rag search`, and score the run."""

from __future__ import annotations

import math
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..models import IngestOutcome
from ..retrieval.retriever import Mode as RetrievalMode
from ..service import RagService
from ..sources import document_id_for
from .beir import CorpusDoc
from .metrics import mrr_at, ndcg_at, recall_at


def corpus_source(doc_id: str) -> str:
    return f"beir:{doc_id}"


@dataclass
class EvalReport:
    queries: int
    ndcg_at_10: float | None
    recall_at_100: float | None
    mrr_at_10: float | None
    latency_ms_p50: float
    latency_ms_p95: float
    indexed: int
    unchanged: int
    failed: list[str] = field(default_factory=list)
    mode: str = "hybrid"
    #: How many queries each ranking actually served (a Korean question under MiniLM is
    #: ranked by keywords alone whatever the requested mode).
    retrieval_used: dict[str, int] = field(default_factory=dict)
    #: {query id: ranking used} for the queries not served by `mode`.
    rerouted: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def index_corpus(service: RagService, corpus: list[CorpusDoc], progress: Callable[[int], None] | None = None) -> tuple[int, int, list[str]]:
    """Every document as one plain-text file (title and text; the _id stays in the source),
    through the service's batch ingestion."""
    files = (
        (corpus_source(doc.doc_id), f"{doc.doc_id}.txt",
         (f"{doc.title}\n\n{doc.text}" if doc.title else doc.text).encode("utf-8"))
        for doc in corpus
    )
    results = service.ingest_many(files, progress=(lambda _: progress(1)) if progress else None)
    indexed = sum(r.outcome is IngestOutcome.INDEXED for r in results)
    unchanged = sum(r.outcome is IngestOutcome.UNCHANGED for r in results)
    failed = [f"{r.file_name.removesuffix('.txt')}: {r.reason}" for r in results
              if r.outcome is IngestOutcome.FAILED]
    return indexed, unchanged, failed


@dataclass
class QueryRun:
    """What run_queries measured: the ranking, latencies, and the ranking used per query."""

    ranked: dict[str, list[tuple[str, float]]]
    latencies: list[float]
    used: dict[str, str]

    def used_counts(self) -> dict[str, int]:
        return dict(sorted(Counter(self.used.values()).items()))


def run_queries(
    service: RagService, corpus: list[CorpusDoc], queries: dict[str, str], top_k: int, mode: RetrievalMode | None = None,
    progress: Callable[[int], None] | None = None,
) -> QueryRun:
    """{query id: [(corpus id, score) best first]} with one entry per document (its best
    chunk), ties in corpus-id order, so that the ranking is the same on every run."""
    to_corpus_id = {document_id_for(corpus_source(d.doc_id)): d.doc_id for d in corpus}
    run: dict[str, list[tuple[str, float]]] = {}
    used: dict[str, str] = {}
    latencies = []
    for query_id, text in queries.items():
        used[query_id] = service.retrieval_for(text, mode)
        started = time.perf_counter()
        hits = service.search(text, top_k * 3, mode=mode)  # chunks -> fewer documents
        latencies.append((time.perf_counter() - started) * 1000)
        best: dict[str, float] = {}
        for hit in hits:
            doc = to_corpus_id.get(hit.chunk.document_id)
            if doc is not None and (doc not in best or hit.score > best[doc]):
                best[doc] = hit.score
        run[query_id] = sorted(best.items(), key=lambda item: (-item[1], item[0]))[:top_k]
        if progress:
            progress(1)
    return QueryRun(run, latencies, used)


def score_run(run: dict[str, list[tuple[str, float]]], qrels: dict[str, dict[str, int]] | None) -> tuple[float | None, float | None, float | None, int]:
    if not qrels:
        return None, None, None, len(run)
    judged = [q for q in run if q in qrels]
    if not judged:
        return 0.0, 0.0, 0.0, 0
    ranked = {q: [d for d, _ in run[q]] for q in judged}
    return (
        statistics.mean(ndcg_at(ranked[q], qrels[q]) for q in judged),
        statistics.mean(recall_at(ranked[q], qrels[q]) for q in judged),
        statistics.mean(mrr_at(ranked[q], qrels[q]) for q in judged),
        len(judged),
    )


def write_trec_run(path: Path, run: dict[str, list[tuple[str, float]]], tag: str) -> None:
    """A TREC run whose scores alone give our order: trec_eval, pytrec_eval and ir_measures
    sort by score and break ties by document id in their own (differing) ways, so every
    score is written in full (repr: round-trips) and a tie is made strictly lower with the
    next float down."""
    with path.open("w", encoding="utf-8") as out:
        for query_id, ranked in run.items():
            previous = math.inf
            for rank, (doc, score) in enumerate(ranked, start=1):
                value = float(score)
                if not value < previous:
                    value = math.nextafter(previous, -math.inf)
                previous = value
                out.write(f"{query_id} Q0 {doc} {rank} {value!r} {tag}\n")
