"""Chunk size and overlap, measured: SciFact (train queries) and SQuAD (2,000 questions) with
the default hybrid retrieval at several chunk budgets. Writes its section of
docs/BENCHMARKS.md.

    .venv/bin/python bench/bench_chunking.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "bench"))

from bench_retrieval import dataset  # noqa: E402
from report import write_section  # noqa: E402

from rag_assistant.bootstrap import create_service  # noqa: E402
from rag_assistant.config import Settings  # noqa: E402
from rag_assistant.evaluation.runner import index_corpus, run_queries, score_run  # noqa: E402

#: (tokens, overlap); 254 is the most MiniLM reads (256 with its two special tokens).
BUDGETS = ((128, 32), (200, 32), (254, 32), (254, 64))


def main() -> None:
    rows = []
    for name in ("squad", "scifact"):
        corpus, queries, qrels = dataset(name)
        queries = {q: t for q, t in queries.items() if q in qrels}
        for size, overlap in BUDGETS:
            folder = REPO / ".cache" / (f"bench-{name}" if (size, overlap) == (200, 32) else f"bench-{name}-{size}-{overlap}")
            service = create_service(Settings(RAG_DATA_DIR=folder, RAG_CHUNK_SIZE=size, RAG_CHUNK_OVERLAP=overlap,
                                              LLM_PROVIDER="extractive"))
            started = time.perf_counter()
            index_corpus(service, corpus)
            indexing = time.perf_counter() - started
            chunks = service.count_chunks()
            scores = {}
            for mode in ("hybrid", "dense"):
                run = run_queries(service, corpus, queries, 100, mode).ranked
                scores[mode] = score_run(run, qrels)[0]
            rows.append(f"| {name} | {size} / {overlap} | {chunks:,} | {scores['hybrid']:.4f} | {scores['dense']:.4f} |")
            print(rows[-1], f"(indexed in {indexing:.0f} s)", flush=True)
            service.close()
    write_section("bench_chunking", [
        "## Chunk size and overlap (tokens of the embedding model)",
        "",
        "Command: `.venv/bin/python bench/bench_chunking.py` (nDCG@10, best chunk per document)",
        "",
        "| set | size / overlap | chunks | hybrid (default) | MiniLM alone |",
        "|---|---|---|---|---|",
        *rows,
        "",
    ])


if __name__ == "__main__":
    main()
