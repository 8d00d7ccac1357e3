"""The extractive answerer on SQuAD 2.0-style data built from SQuAD v1.1, and on KorQuAD 1.0.

English: the paragraphs of three quarters of the SQuAD v1.1 dev articles are indexed (article
index % 4 != 3); answerable = 500 questions about indexed articles; unanswerable = 300
questions about the held-out articles (the documents do not hold their answers, though they
are often on a neighbouring topic) and 200 SciFact claims (off-topic). Korean: all 964 KorQuAD
dev paragraphs indexed; 600 questions of the even-indexed articles (where the answerer was
tuned) and, reported once as the held-out check, 600 of the odd-indexed ones.

Per set: answered, answer contains a gold answer (SQuAD-normalised; over all answerable
questions, so a refusal counts as a miss), declined (unanswerable sets), answer length
(characters, citations removed), and the answerer's own time per question (5 sources, the
retrieval done once beforehand) — with today's answerer (the embedding one of commit
7076ae5, loaded from git) as the same-run baseline on the first 100 questions of each set.

    RAG_SHARED_DIR=/work/shared .venv/bin/python bench/bench_answers.py [--no-baseline]
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
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
from rag_assistant.evaluation.answers import answer_body, contains_gold  # noqa: E402
from rag_assistant.evaluation.beir import read_corpus, read_queries  # noqa: E402
from rag_assistant.evaluation.runner import index_corpus  # noqa: E402
from rag_assistant.evaluation.squad import article_of, read_squad  # noqa: E402
from report import write_section  # noqa: E402

BASELINE_COMMIT = "7076ae5"
#: Today's answerer embeds every sentence (~0.3 s a question here): it runs on the first
#: questions of each set only, and is compared with ours on the same ones.
BASELINE_SAMPLE = 100
HELD_OUT_EVERY = 4


def baseline_answerer(embedder):
    """Today's answerer, from git: it embeds every candidate sentence; gate 0.40."""
    source = subprocess.run(["git", "-C", str(REPO), "show", f"{BASELINE_COMMIT}:src/rag_assistant/answering/extractive.py"],
                            check=True, capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "baseline_extractive.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("rag_assistant.answering._baseline_extractive", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.ExtractiveAnswerer(embedder, min_relevance=0.40)


def measure(answerer, rows) -> dict:
    answered = contains = declined = 0
    lengths, times = [], []
    answerable = sum(1 for _, gold, _ in rows if gold)
    for question, gold, hits in rows:
        started = time.perf_counter()
        answer = answerer.generate(question, hits)
        times.append((time.perf_counter() - started) * 1000)
        if gold:
            if answer.answered:
                answered += 1
                lengths.append(len(answer_body(answer.text)))
                contains += contains_gold(answer_body(answer.text), gold)
        else:
            declined += not answer.answered
    n = len(rows)
    return {
        "n": n, "answered": answered / n if answerable else 1 - declined / n,
        "contains": contains / n if answerable else None, "declined": declined / n if not answerable else None,
        "len50": statistics.median(lengths) if lengths else None,
        "len90": sorted(lengths)[int(0.9 * (len(lengths) - 1))] if lengths else None,
        "lenmax": max(lengths) if lengths else None, "ms": statistics.median(times),
    }


def service_for(name: str):
    settings = Settings(RAG_DATA_DIR=REPO / ".cache" / f"bench-answers-{name}", LLM_PROVIDER="extractive")
    embedder = create_embedder(settings.embedding_model_name, cache_dir=settings.cache_dir)
    return create_service(settings, embedder=embedder), embedder


def english_sets(service) -> dict[str, list]:
    corpus = read_corpus(SHARED / "data" / "squad-v1.1" / "corpus.jsonl.gz")
    index_corpus(service, [d for d in corpus if article_of(d.doc_id) % HELD_OUT_EVERY != HELD_OUT_EVERY - 1])
    with gzip.open(SHARED / "data" / "squad-v1.1" / "queries.jsonl.gz", "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    inside = [r for r in rows if article_of(r["metadata"]["doc_id"]) % HELD_OUT_EVERY != HELD_OUT_EVERY - 1]
    outside = [r for r in rows if article_of(r["metadata"]["doc_id"]) % HELD_OUT_EVERY == HELD_OUT_EVERY - 1]
    random.Random(0).shuffle(inside)
    random.Random(0).shuffle(outside)
    claims = sorted(read_queries(SHARED / "data" / "scifact" / "queries.train.jsonl").values())
    random.Random(0).shuffle(claims)
    # The first 500 / 300 / 200 are reported; the answerer was tuned on the next ones.
    return {
        "SQuAD, indexed articles (answerable)": [(r["text"], r["metadata"]["answers"], service.search(r["text"])) for r in inside[:500]],
        "SQuAD, held-out articles (unanswerable)": [(r["text"], [], service.search(r["text"])) for r in outside[:300]],
        "SciFact claims (off-topic)": [(c, [], service.search(c)) for c in claims[:200]],
    }


def korean_sets(service) -> dict[str, list]:
    corpus, queries, qrels, answers = read_squad(SHARED / "data" / "korquad" / "KorQuAD_v1.0_dev.json")
    index_corpus(service, corpus)  # converted at run time, never stored (CC BY-ND)
    by_half: dict[int, list[str]] = {0: [], 1: []}
    for query_id in queries:
        by_half[article_of(next(iter(qrels[query_id]))) % 2].append(query_id)
    for ids in by_half.values():
        random.Random(0).shuffle(ids)
    return {
        "KorQuAD even articles (tuned on)": [(queries[q], answers[q], service.search(queries[q])) for q in by_half[0][:600]],
        "KorQuAD odd articles (held out, reported once)": [(queries[q], answers[q], service.search(queries[q])) for q in by_half[1][:600]],
    }


def chunk_chars(service) -> tuple[int, float]:
    count = service.count_chunks()
    documents, _ = service.list_documents(limit=200)
    lengths = [len(c.text) for d in documents for c in service.document_chunks(d.document_id)]
    return count, statistics.mean(lengths)


def fmt(value, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def main() -> None:
    with_baseline = "--no-baseline" not in sys.argv
    results: list[tuple[str, str, dict]] = []
    chunks = {}
    for name, build in (("squad", english_sets), ("korquad", korean_sets)):
        service, embedder = service_for(name)
        sets = build(service)
        chunks[name] = chunk_chars(service)
        answerers = {"ours (default)": ExtractiveAnswerer(min_relevance=Settings().min_relevance)}
        for set_name, rows in sets.items():
            for who, answerer in answerers.items():
                results.append((set_name, who, measure(answerer, rows)))
                print(set_name, who, results[-1][2], flush=True)
            if with_baseline:
                few = rows[:BASELINE_SAMPLE]
                for who, answerer in (("ours (default)", answerers["ours (default)"]),
                                      (f"today's ({BASELINE_COMMIT})", baseline_answerer(embedder))):
                    results.append((f"{set_name}, first {len(few)}", who, measure(answerer, few)))
                    print(results[-1][0], who, results[-1][2], flush=True)
        service.close()

    lines = [
        "## Extractive answers (SQuAD 2.0-style from SQuAD v1.1; KorQuAD 1.0)", "",
        "Command: `RAG_SHARED_DIR=/work/shared .venv/bin/python bench/bench_answers.py` (samples `random.Random(0)`; "
        "top 5 sources of the default hybrid retrieval; the same retrieved sources go to both answerers)", "",
        "| set | answerer | answered | contains a gold answer | declined | answer chars p50 / p90 / max | answerer ms p50 |",
        "|---|---|---:|---:|---:|---|---:|",
    ]
    for set_name, who, r in results:
        lines.append(
            f"| {set_name} ({r['n']}) | {who} | {r['answered']:.1%} | {fmt(r['contains'], '.1%')} | "
            f"{fmt(r['declined'], '.1%')} | {fmt(r['len50'], '.0f')} / {fmt(r['len90'], '.0f')} / {fmt(r['lenmax'], 'd')} | "
            f"{r['ms']:.1f} |")
    base = {s: r for s, who, r in results if not who.startswith("ours")}
    ours = {s: r for s, who, r in results if who.startswith("ours") and s in base}
    if base:
        ratio = statistics.median(base[s]["ms"] / ours[s]["ms"] for s in ours)
        lines += ["", f"Answerer time, same run: today's / ours = x{ratio:.0f} (median over the sets; MiniLM fp32, "
                  "2 threads, shared 2-core machine)."]
    lines += ["", f"Chunks: SQuAD {chunks['squad'][0]:,} (mean {chunks['squad'][1]:.0f} characters, first 200 "
              f"documents), KorQuAD {chunks['korquad'][0]:,} (mean {chunks['korquad'][1]:.0f} characters)."]
    write_section("bench_answers", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
