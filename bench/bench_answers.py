"""The extractive answerer on SQuAD v1.1 (a fixed sample of 500 questions over the 2,067
paragraphs): how often its answer contains a gold answer string, and how it abstains —
on those answerable questions, and on 200 SciFact claims whose answers are not in the
corpus at all. Swept over the relevance gate (RAG_MIN_RELEVANCE). Writes its section of
docs/BENCHMARKS.md.

    .venv/bin/python bench/bench_answers.py [--korean-only]

Containment compares SQuAD-normalised text (lower case, no punctuation or articles). It is a
lenient measure for a quoting answerer (a 3-sentence quote that contains the span counts),
so the table also gives how often the gold answer was in the retrieved sources at all.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import re
import statistics
import string
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "bench"))
SHARED = Path(os.environ.get("RAG_SHARED_DIR", REPO.parent / "shared"))

from rag_assistant.answering.extractive import ExtractiveAnswerer  # noqa: E402
from rag_assistant.bootstrap import create_service  # noqa: E402
from rag_assistant.config import Settings  # noqa: E402
from rag_assistant.embedding.registry import create_embedder  # noqa: E402
from rag_assistant.evaluation.beir import read_corpus, read_queries  # noqa: E402
from rag_assistant.evaluation.runner import index_corpus  # noqa: E402
from report import write_section  # noqa: E402

THRESHOLDS = (0.30, 0.35, 0.40, 0.45, 0.50, 0.55)
SAMPLE = 500
UNANSWERABLE = 200


def normalize(text: str) -> str:
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def korean(thresholds: tuple[float, ...]) -> None:
    """tests/fixtures/korean: 24 answerable Korean questions over 10 Korean/English documents."""
    import tempfile

    fixture = REPO / "tests" / "fixtures" / "korean"
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(RAG_DATA_DIR=tmp, LLM_PROVIDER="extractive")
        embedder = create_embedder(settings.embedding_model_name, cache_dir=settings.cache_dir)
        service = create_service(settings, embedder=embedder)
        index_corpus(service, read_corpus(fixture / "corpus.jsonl"))
        queries = read_queries(fixture / "queries.jsonl")
        hits = {q: service.search(text) for q, text in queries.items()}
        row = []
        for threshold in thresholds:
            answerer = ExtractiveAnswerer(embedder, min_relevance=threshold)
            answered = sum(answerer.generate(queries[q], hits[q]).answered for q in queries)
            row.append(f"{answered}/{len(queries)}")
        service.close()
    lines = ["### Korean test set (tests/fixtures/korean, every question answerable)", "",
             "Command: `.venv/bin/python bench/bench_answers.py --korean-only`", "",
             "| RAG_MIN_RELEVANCE | " + " | ".join(f"{t:.2f}" for t in thresholds) + " |",
             "|---|" + "---:|" * len(thresholds), "| answered | " + " | ".join(row) + " |"]
    write_section("bench_answers_korean", lines)
    print("\n".join(lines))


def main() -> None:
    korean(THRESHOLDS)
    if "--korean-only" in sys.argv:
        return
    base = SHARED / "data" / "squad-v1.1"
    with gzip.open(base / "queries.jsonl.gz", "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    sample = random.Random(0).sample([r for r in rows if r["metadata"]["answers"]], SAMPLE)
    claims = read_queries(SHARED / "data" / "scifact" / "queries.train.jsonl")
    off_topic = random.Random(0).sample(sorted(claims.values()), UNANSWERABLE)

    settings = Settings(RAG_DATA_DIR=REPO / ".cache" / "bench-squad", LLM_PROVIDER="extractive")
    embedder = create_embedder(settings.embedding_model_name, cache_dir=settings.cache_dir)
    service = create_service(settings, embedder=embedder)
    index_corpus(service, read_corpus(base / "corpus.jsonl.gz"))
    answerers = {t: ExtractiveAnswerer(embedder, min_relevance=t) for t in THRESHOLDS}

    stats = {t: {"answered": 0, "contains": 0, "contains_answered": 0, "off_answered": 0} for t in THRESHOLDS}
    in_sources = 0
    latencies = []
    for row in sample:
        gold = [normalize(a) for a in row["metadata"]["answers"]]
        started = time.perf_counter()
        hits = service.search(row["text"])
        for threshold, answerer in answerers.items():
            answer = answerer.generate(row["text"], hits)
            if threshold == settings.min_relevance:
                latencies.append((time.perf_counter() - started) * 1000)
            if answer.answered:
                stats[threshold]["answered"] += 1
                if any(g and g in normalize(answer.text) for g in gold):
                    stats[threshold]["contains"] += 1
        in_sources += any(g and g in normalize(" ".join(h.chunk.text for h in hits)) for g in gold)
    for claim in off_topic:
        hits = service.search(claim)
        for threshold, answerer in answerers.items():
            stats[threshold]["off_answered"] += answerer.generate(claim, hits).answered

    default = settings.min_relevance
    lines = [
        "## Extractive answers (SQuAD v1.1, 500 questions; 200 off-topic SciFact claims)", "",
        "Command: `.venv/bin/python bench/bench_answers.py` (sample: `random.Random(0)`; top 5 sources, hybrid retrieval)", "",
        f"A gold answer is in the retrieved sources for {in_sources / SAMPLE:.1%} of the questions (the ceiling).", "",
        "| RAG_MIN_RELEVANCE | answered (SQuAD) | answer contains a gold answer | … of the answered | "
        "off-topic claims answered (should be 0) |",
        "|---:|---:|---:|---:|---:|",
    ]
    for threshold in THRESHOLDS:
        s = stats[threshold]
        mark = " (default)" if threshold == default else ""
        lines.append(
            f"| {threshold:.2f}{mark} | {s['answered'] / SAMPLE:.1%} | {s['contains'] / SAMPLE:.1%} | "
            f"{s['contains'] / max(s['answered'], 1):.1%} | {s['off_answered'] / UNANSWERABLE:.1%} |")
    lines += ["", f"Question to answer (retrieval + extractive answer, default gate), p50 "
              f"{statistics.median(latencies):.0f} ms, p95 {statistics.quantiles(latencies, n=20)[18]:.0f} ms "
              "(shared 2-core machine)."]
    write_section("bench_answers", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
