"""Questions across languages: Korean questions about the English NIST PDFs, and English
questions about the Korean documents of tests/fixtures/korean (tests/fixtures/cross_language).
Recall@5 = share of questions with a judged page (document) among the first five results,
through RagService.search, for each embedding model and retrieval mode.

    .venv/bin/python bench/bench_cross_language.py

Writes its section of docs/BENCHMARKS.md.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "bench"))

from report import write_section  # noqa: E402

from rag_assistant.bootstrap import create_service  # noqa: E402
from rag_assistant.config import Settings  # noqa: E402
from rag_assistant.embedding.registry import create_embedder  # noqa: E402
from rag_assistant.evaluation.beir import read_corpus, read_qrels, read_queries  # noqa: E402

FIXTURES = REPO / "tests" / "fixtures"
SET = FIXTURES / "cross_language"
MODELS = ("all-MiniLM-L6-v2", "use-multilingual")
MODES = ("keyword", "dense", "rrf", "hybrid")


def korean_to_english(service, mode: str) -> tuple[float, float]:
    queries = read_queries(SET / "queries.jsonl")
    qrels = read_qrels(SET / "qrels.tsv")
    found, latencies = [], []
    for query_id, text in queries.items():
        started = time.perf_counter()
        hits = service.search(text, 5, mode=mode)
        latencies.append((time.perf_counter() - started) * 1000)
        wanted = set(qrels[query_id])
        covered = set()
        for hit in hits:
            first = hit.chunk.page or 0
            last = hit.chunk.page_end or first
            covered |= {f"{hit.file_name}#{page}" for page in range(first, last + 1)}
        found.append(bool(wanted & covered))
    return sum(found) / len(found), statistics.median(latencies)


def english_to_korean(service, mode: str, file_to_id: dict[str, str]) -> float:
    queries = read_queries(SET / "queries_en.jsonl")
    qrels = read_qrels(SET / "qrels_en.tsv")
    found = []
    for query_id, text in queries.items():
        hits = service.search(text, 5, mode=mode)
        found.append(bool(set(qrels[query_id]) & {file_to_id.get(h.file_name) for h in hits}))
    return sum(found) / len(found)


def measure(model: str, work: Path) -> list[tuple[str, str, float, float, float]]:
    settings = Settings(RAG_DATA_DIR=work / model, LLM_PROVIDER="extractive", EMBEDDING_MODEL_NAME=model)
    embedder = create_embedder(settings.embedding_model_name, cache_dir=settings.cache_dir)
    rows = []
    with create_service(settings, embedder=embedder) as service:
        for pdf in sorted((FIXTURES / "pdfs").glob("*.pdf")):
            service.ingest_path(pdf)
        korean = read_corpus(FIXTURES / "korean" / "corpus.jsonl")
        file_to_id = {}
        for doc in korean:
            name = f"{doc.doc_id}.txt"
            file_to_id[name] = doc.doc_id
            service.ingest_bytes(f"korean:{doc.doc_id}", name, f"{doc.title}\n\n{doc.text}".encode())
        for mode in MODES:
            ko_en, p50 = korean_to_english(service, mode)
            en_ko = english_to_korean(service, mode, file_to_id)
            rows.append((model, mode, ko_en, en_ko, p50))
            print(f"{model:<20} {mode:<8} ko->en R@5 {ko_en:.2f}  en->ko R@5 {en_ko:.2f}  p50 {p50:.0f} ms", flush=True)
    return rows


def main() -> None:
    models = sys.argv[1:] or MODELS
    with tempfile.TemporaryDirectory() as work:
        rows = [row for model in models for row in measure(model, Path(work))]
    lines = [
        "## Questions across languages (tests/fixtures/cross_language)",
        "",
        "Command: `.venv/bin/python bench/bench_cross_language.py` (both NIST PDFs and the 10 documents",
        "of tests/fixtures/korean in one index; 24 Korean questions judged by the NIST page that answers",
        "them, 10 English questions judged by the Korean document; Recall@5 = share of questions with a",
        "judged page or document in the first five results).",
        "",
        "| EMBEDDING_MODEL_NAME | retrieval | Korean -> English R@5 | English -> Korean R@5 | query p50 |",
        "|---|---|---:|---:|---:|",
        *[f"| {m} | {mode} | {ko:.2f} | {en:.2f} | {p50:.0f} ms |" for m, mode, ko, en, p50 in rows],
        "",
    ]
    write_section("bench_cross_language", lines)


if __name__ == "__main__":
    main()
