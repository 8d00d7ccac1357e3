"""The extractive answerer on SQuAD 2.0-style data built from SQuAD v1.1, and on KorQuAD 1.0.

English: the paragraphs of three quarters of the SQuAD v1.1 dev articles are indexed (article
index % 4 != 3); answerable = 500 questions about indexed articles that no part of the
answerer was fitted on: articles % 4 == 2 (the sentence reader was trained on articles % 4 == 0
and % 8 == 5, its weights chosen on % 8 == 1) and outside the shuffle positions 500-4499 where
the word weights were fitted (bench/fit_answers.py); unanswerable = 300
questions about the held-out articles (the documents do not hold their answers, though they
are often on a neighbouring topic) and 200 SciFact claims (off-topic). Korean: all 964 KorQuAD
dev paragraphs indexed; 600 questions of the even-indexed articles (where the answerer was
tuned) and, reported once as the held-out check, 600 of the odd-indexed ones.

Korean abstention: a second KorQuAD index without every fourth even-indexed article
(article % 4 == 2); 300 questions about those articles are the unanswerable set.

Per set: answered, answer contains a gold answer (SQuAD-normalised; over all answerable
questions, so a refusal counts as a miss), declined (unanswerable sets), answer length
(characters, citations removed), and the answerer's own time per question (5 sources, the
retrieval done once beforehand), p50 and p90, the answerers taking turns question by question.
Answerers: the one on main before this change (commit 0d03941, loaded from git: the same-run
baseline; it read with the service's MiniLM when the words left the gate undecided), today's
default (words + the sentence reader, int8 as on Lambda), and today's without the reader
(RAG_SENTENCE_READER=false) and with one sentence only (what the reader and the second
sentence each bring).

    RAG_SHARED_DIR=/work/shared .venv/bin/python bench/bench_answers.py
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

from report import write_section  # noqa: E402

from rag_assistant.answering.extractive import ExtractiveAnswerer  # noqa: E402
from rag_assistant.answering.reader import cached_reader  # noqa: E402
from rag_assistant.bootstrap import create_service  # noqa: E402
from rag_assistant.config import Settings  # noqa: E402
from rag_assistant.embedding.registry import create_embedder  # noqa: E402
from rag_assistant.evaluation.answers import answer_body, contains_gold  # noqa: E402
from rag_assistant.evaluation.beir import read_corpus, read_queries  # noqa: E402
from rag_assistant.evaluation.runner import index_corpus  # noqa: E402
from rag_assistant.evaluation.squad import article_of, read_squad  # noqa: E402

BASELINE_COMMIT = "0d03941"
HELD_OUT_EVERY = 4
KOREAN_HELD_OUT = 2  # article % 4: an even (tuning-half) article left out of the second index


def baseline_answerer(embedder):
    """The extractive answerer on main before this change, from git (gate 0.50; it read with
    the service's MiniLM when the words left the gate undecided)."""
    folder = Path(tempfile.mkdtemp())
    for name in ("extractive.py", "english_words.txt"):
        shown = subprocess.run(["git", "-C", str(REPO), "show", f"{BASELINE_COMMIT}:src/rag_assistant/answering/{name}"],
                               check=True, capture_output=True, text=True).stdout
        (folder / name).write_text(shown, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("rag_assistant.answering._baseline_extractive", folder / "extractive.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.ExtractiveAnswerer(min_relevance=0.50, reader=embedder)


def measure(answerers: dict, rows) -> dict[str, dict]:
    """Every answerer on every question, taking turns question by question, so the machine's
    load (shared, noisy) weighs on each answerer's time alike."""
    tallies = {who: {"answered": 0, "contains": 0, "declined": 0, "lengths": [], "times": []} for who in answerers}
    for question, gold, hits in rows:
        for who, answerer in answerers.items():
            tally = tallies[who]
            started = time.perf_counter()
            answer = answerer.generate(question, hits)
            tally["times"].append((time.perf_counter() - started) * 1000)
            if gold:
                if answer.answered:
                    tally["answered"] += 1
                    tally["lengths"].append(len(answer_body(answer.text)))
                    tally["contains"] += contains_gold(answer_body(answer.text), gold)
            else:
                tally["declined"] += not answer.answered
    n = len(rows)
    answerable = any(gold for _, gold, _ in rows)
    results = {}
    for who, t in tallies.items():
        lengths, times = t["lengths"], t["times"]
        results[who] = {
            "n": n, "answered": t["answered"] / n if answerable else 1 - t["declined"] / n,
            "contains": t["contains"] / n if answerable else None, "declined": t["declined"] / n if not answerable else None,
            "len50": statistics.median(lengths) if lengths else None, "len90": percentile(lengths, 0.9),
            "lenmax": max(lengths) if lengths else None, "ms": statistics.median(times), "ms90": percentile(times, 0.9),
        }
    return results


def percentile(values, share: float):
    return sorted(values)[int(share * (len(values) - 1))] if values else None


def service_for(name: str):
    settings = Settings(RAG_DATA_DIR=REPO / ".cache" / f"bench-answers-{name}", LLM_PROVIDER="extractive")
    embedder = create_embedder(settings.embedding_model_name, cache_dir=settings.cache_dir,
                               precision=settings.embedding_precision)
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
    # Never fitted on: not the reader's articles (% 4 == 0, % 8 == 5, % 8 == 1), not the word
    # weights' shuffle positions (500-4499).
    unseen = [r for n, r in enumerate(inside)
              if article_of(r["metadata"]["doc_id"]) % 4 == 2 and not 500 <= n < 4500]
    claims = sorted(read_queries(SHARED / "data" / "scifact" / "queries.train.jsonl").values())
    random.Random(0).shuffle(claims)
    # The first 500 / 300 / 200 are reported; the gates were tuned on the next ones.
    return {
        "SQuAD, indexed articles never fitted on (answerable)": [
            (r["text"], r["metadata"]["answers"], service.search(r["text"])) for r in unseen[:500]],
        "SQuAD, held-out articles (unanswerable)": [(r["text"], [], service.search(r["text"])) for r in outside[:300]],
        "SciFact claims (off-topic)": [(c, [], service.search(c)) for c in claims[:200]],
    }


def _korquad():
    return read_squad(SHARED / "data" / "korquad" / "KorQuAD_v1.0_dev.json")


def korean_sets(service) -> dict[str, list]:
    corpus, queries, qrels, answers = _korquad()
    index_corpus(service, corpus)  # converted at run time, never stored (CC BY-ND)
    by_half: dict[int, list[str]] = {0: [], 1: []}
    for query_id in queries:
        by_half[article_of(next(iter(qrels[query_id]))) % 2].append(query_id)
    for ids in by_half.values():
        random.Random(0).shuffle(ids)
    return {
        "KorQuAD even articles (answerable, tuned on)": [(queries[q], answers[q], service.search(queries[q])) for q in by_half[0][:600]],
        "KorQuAD odd articles (answerable, held out, run once)": [(queries[q], answers[q], service.search(queries[q])) for q in by_half[1][:600]],
    }


def korean_held_out_sets(service) -> dict[str, list]:
    corpus, queries, qrels, _ = _korquad()
    index_corpus(service, [d for d in corpus if article_of(d.doc_id) % HELD_OUT_EVERY != KOREAN_HELD_OUT])
    outside = [q for q in queries if article_of(next(iter(qrels[q]))) % HELD_OUT_EVERY == KOREAN_HELD_OUT]
    random.Random(0).shuffle(outside)
    return {"KorQuAD held-out articles (unanswerable)": [(queries[q], [], service.search(queries[q])) for q in outside[:300]]}


def chunk_chars(service) -> tuple[int, float]:
    count = service.count_chunks()
    documents, _ = service.list_documents(limit=200)
    lengths = [len(c.text) for d in documents for c in service.document_chunks(d.document_id)]
    return count, statistics.mean(lengths)


def fmt(value, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def main() -> None:
    min_relevance = Settings().min_relevance
    results: list[tuple[str, str, dict]] = []
    chunks = {}
    for name, build in (("squad", english_sets), ("korquad", korean_sets), ("korquad-held-out", korean_held_out_sets)):
        service, embedder = service_for(name)
        reader = cached_reader(REPO / ".cache")  # int8, as on Lambda
        answerers = {
            f"before ({BASELINE_COMMIT})": baseline_answerer(embedder),
            "after (default: words + sentence reader)": ExtractiveAnswerer(min_relevance=min_relevance, reader=reader),
            "after, words only (RAG_SENTENCE_READER=false)": ExtractiveAnswerer(min_relevance=min_relevance),
            "after, one sentence only": ExtractiveAnswerer(min_relevance=min_relevance, reader=reader, max_sentences=1),
        }
        sets = build(service)
        chunks[name] = chunk_chars(service)
        for set_name, rows in sets.items():
            for who, result in measure(answerers, rows).items():
                results.append((set_name, who, result))
                print(set_name, "|", who, result, flush=True)
        service.close()

    lines = [
        "## Extractive answers (SQuAD 2.0-style from SQuAD v1.1; KorQuAD 1.0)", "",
        "Command: `RAG_SHARED_DIR=/work/shared .venv/bin/python bench/bench_answers.py` (samples `random.Random(0)`; "
        "top 5 sources of the default retrieval and embedder (int8 MiniLM); the same retrieved sources go to every "
        f"answerer; before = the answerer on main at commit {BASELINE_COMMIT}, loaded from git, same run; "
        "the sentence reader int8, as on Lambda)", "",
        "| set | answerer | answered | contains a gold answer | declined | answer chars p50 / p90 / max | answerer ms p50 / p90 |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    for set_name, who, r in results:
        lines.append(
            f"| {set_name} ({r['n']}) | {who} | {r['answered']:.1%} | {fmt(r['contains'], '.1%')} | "
            f"{fmt(r['declined'], '.1%')} | {fmt(r['len50'], '.0f')} / {fmt(r['len90'], '.0f')} / {fmt(r['lenmax'], 'd')} | "
            f"{r['ms']:.1f} / {r['ms90']:.1f} |")
    lines += ["", f"Chunks: SQuAD {chunks['squad'][0]:,} (mean {chunks['squad'][1]:.0f} characters, first 200 "
              f"documents), KorQuAD {chunks['korquad'][0]:,} (mean {chunks['korquad'][1]:.0f} characters). "
              f"Machine load (1-minute average) at the end: {os.getloadavg()[0]:.1f} on 2 cores."]
    write_section("bench_answers", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
