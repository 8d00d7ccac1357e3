"""Local ingestion speed and the int8 model's retrieval quality; writes its section of
docs/BENCHMARKS.md.

    RAG_SHARED_DIR=/work/shared .venv/bin/python bench/bench_ingestion.py [--docs 400] [--skip-quality]

Speed (chunks/s, SciFact documents as plain-text files, a fresh index each run, median of
3 interleaved runs):
  before   one document at a time (`ingest_bytes`), fp32 model (the default until now)
  raw      the int8 ONNX model alone embedding the same chunk texts (the ceiling)
  after    `ingest_many` (batches across documents, one transaction each), int8 model
Quality: SciFact train (809 queries, all 5,183 documents), nDCG@10 with the fp32 and the
int8 model, indexed through `ingest_many` (the same code as `rag eval`).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "bench"))
SHARED = Path(os.environ.get("RAG_SHARED_DIR", REPO.parent / "shared"))

from report import write_section  # noqa: E402

from rag_assistant.bootstrap import create_service  # noqa: E402
from rag_assistant.config import Settings  # noqa: E402
from rag_assistant.embedding.registry import create_embedder  # noqa: E402
from rag_assistant.evaluation.beir import read_corpus, read_qrels, read_queries  # noqa: E402
from rag_assistant.evaluation.runner import corpus_source, index_corpus, run_queries, score_run  # noqa: E402

MODEL = "sentence-transformers/all-MiniLM-L6-v2"


def files_of(corpus) -> list[tuple[str, str, bytes]]:
    return [(corpus_source(d.doc_id), f"{d.doc_id}.txt",
             (f"{d.title}\n\n{d.text}" if d.title else d.text).encode()) for d in corpus]


def speed(corpus, cache: Path, runs: int) -> list[str]:
    files = files_of(corpus)
    fp32 = create_embedder(MODEL, cache_dir=cache, precision="fp32", threads=2)
    int8 = create_embedder(MODEL, cache_dir=cache, precision="int8", threads=2)
    # Untimed: the chunk texts, and one pass of each model over them (onnxruntime's first
    # run of each input shape allocates; the timed runs all see warm shapes).
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(RAG_DATA_DIR=Path(tmp), LLM_PROVIDER="extractive", RAG_CACHE_DIR=cache)
        with create_service(settings, embedder=int8) as service:
            results = service.ingest_many(files)
            chunk_texts = [c.embedding_text() for r in results for c in service.document_chunks(r.document_id)]
    fp32.embed_documents(chunk_texts)
    int8.embed_documents(chunk_texts)
    samples: dict[str, list[float]] = {"before": [], "raw": [], "after": []}
    for run in range(runs):
        for kind in ("before", "raw", "after"):
            with tempfile.TemporaryDirectory() as tmp:
                settings = Settings(RAG_DATA_DIR=Path(tmp), LLM_PROVIDER="extractive", RAG_CACHE_DIR=cache)
                if kind == "raw":
                    started = time.perf_counter()
                    int8.embed_documents(chunk_texts)
                    samples[kind].append(len(chunk_texts) / (time.perf_counter() - started))
                    continue
                with create_service(settings, embedder=fp32 if kind == "before" else int8) as service:
                    started = time.perf_counter()
                    if kind == "before":
                        results = [service.ingest_bytes(*f) for f in files]
                    else:
                        results = service.ingest_many(files)
                    seconds = time.perf_counter() - started
                    chunks = sum(r.chunk_count for r in results)
                    samples[kind].append(chunks / seconds)
                    assert chunks == len(chunk_texts)
        print(f"run {run}: " + ", ".join(f"{k} {v[-1]:.1f}" for k, v in samples.items()), flush=True)
    before, raw, after = (statistics.median(samples[k]) for k in ("before", "raw", "after"))
    # Paired per run (the three were measured back to back): steadier than a ratio of medians.
    paired = statistics.median(a / r for a, r in zip(samples["after"], samples["raw"], strict=True))
    per_run = ", ".join(f"{a / r:.0%}" for a, r in zip(samples["after"], samples["raw"], strict=True))
    return [
        f"### Speed: {len(files)} SciFact documents, {len(chunk_texts):,} chunks, 2 threads "
        f"(median of {runs}, interleaved)",
        "",
        "| path | chunks/s | ratio |",
        "|---|---:|---:|",
        f"| before: one document at a time, fp32 model, this store (baseline) | {before:.1f} | 1.00x |",
        f"| raw int8 ONNX model alone, same chunk texts (the ceiling) | {raw:.1f} | {raw / before:.2f}x |",
        f"| after: `ingest_many`, int8 model | {after:.1f} | {after / before:.2f}x |",
        "",
        f"After / raw int8 rate, median of the runs' paired ratios: **{paired:.0%}** ({per_run}; "
        "goal: at least 90%).",
        "",
    ]


def quality(cache: Path) -> list[str]:
    base = SHARED / "data" / "scifact"
    corpus = read_corpus(base / "corpus.jsonl.gz")
    qrels = read_qrels(base / "qrels" / "train.tsv")
    queries = {q: t for q, t in read_queries(base / "queries.train.jsonl").items() if q in qrels}
    rows = []
    scores: dict[tuple[str, str], float] = {}
    for precision in ("fp32", "int8"):
        settings = Settings(RAG_DATA_DIR=REPO / ".cache" / f"bench-ingestion-{precision}", LLM_PROVIDER="extractive",
                            RAG_CACHE_DIR=cache)
        embedder = create_embedder(MODEL, cache_dir=cache, precision=precision)
        with create_service(settings, embedder=embedder) as service:
            started = time.perf_counter()
            index_corpus(service, corpus)
            print(f"{precision}: indexed in {time.perf_counter() - started:.0f} s", flush=True)
            for mode in ("hybrid", "dense"):
                run, _ = run_queries(service, corpus, queries, 100, mode)
                ndcg, _, _, _ = score_run(run, qrels)
                scores[(precision, mode)] = ndcg
                print(f"  {precision} {mode}: nDCG@10 {ndcg:.4f}", flush=True)
    for mode in ("hybrid", "dense"):
        fp32, int8 = scores[("fp32", mode)], scores[("int8", mode)]
        rows.append(f"| {mode} | {fp32:.4f} | {int8:.4f} | x{int8 / fp32:.4f} ({(int8 - fp32) / fp32:+.2%}) |")
    return [
        f"### Quality: SciFact train ({len(queries)} queries, {len(corpus):,} documents), nDCG@10",
        "",
        "| retrieval | fp32 (baseline) | int8 | int8 / fp32 |",
        "|---|---:|---:|---:|",
        *rows,
        "",
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=400, help="SciFact documents in the speed runs")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--quality-only", action="store_true")
    args = parser.parse_args()
    cache = Settings().cache_dir
    if not args.quality_only:
        corpus = read_corpus(SHARED / "data" / "scifact" / "corpus.jsonl.gz")[: args.docs]
        lines = ["## Local ingestion: batches and the int8 model", "",
                 "Command: `RAG_SHARED_DIR=/work/shared .venv/bin/python bench/bench_ingestion.py "
                 f"--docs {args.docs} --runs {args.runs} --skip-quality`", ""]
        lines += speed(corpus, cache, args.runs)
        write_section("bench_ingestion", lines)
        print("\n".join(lines))
    if not args.skip_quality:
        lines = ["## The int8 model locally: retrieval quality", "",
                 "Command: `RAG_SHARED_DIR=/work/shared .venv/bin/python bench/bench_ingestion.py --quality-only`", ""]
        lines += quality(cache)
        write_section("bench_int8_quality", lines)
        print("\n".join(lines))


if __name__ == "__main__":
    main()
