"""Fits the extractive answerer's sentence weights (answering/extractive.py, WEIGHTS).

The score of a candidate sentence is a weighted sum of its FEATURES; the weights are those of
a conditional logit — the softmax of the scores over a question's candidate sentences is the
chance each holds a gold answer — fitted by gradient ascent on the log-likelihood of the
sentences that hold one (questions whose sources hold no gold sentence are left out).

Data (never the reported samples of bench/bench_answers.py): SQuAD v1.1 dev questions about
the indexed articles 500-4499 of the same shuffle (the first 500 are reported), KorQuAD 1.0
dev questions of the even-indexed articles after the first 600 (the odd half is never used).
Retrieval as in the benchmark: top 5 sources of the default hybrid.

    RAG_SHARED_DIR=/work/shared .venv/bin/python bench/fit_answers.py
"""

from __future__ import annotations

import gzip
import json
import math
import pickle
import random
import sys

import numpy as np
from bench_answers import HELD_OUT_EVERY, REPO, SHARED, service_for

from rag_assistant.answering.extractive import FEATURES, scored_candidates, sentence_features
from rag_assistant.evaluation.answers import contains_gold
from rag_assistant.evaluation.beir import read_corpus
from rag_assistant.evaluation.runner import index_corpus
from rag_assistant.evaluation.squad import article_of, read_squad

SOURCES = 5
L2 = 1e-3


def english_rows() -> list[tuple[str, list[str], list]]:
    service, _ = service_for("squad")
    corpus = read_corpus(SHARED / "data" / "squad-v1.1" / "corpus.jsonl.gz")
    index_corpus(service, [d for d in corpus if article_of(d.doc_id) % HELD_OUT_EVERY != HELD_OUT_EVERY - 1])
    with gzip.open(SHARED / "data" / "squad-v1.1" / "queries.jsonl.gz", "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    inside = [r for r in rows if article_of(r["metadata"]["doc_id"]) % HELD_OUT_EVERY != HELD_OUT_EVERY - 1]
    random.Random(0).shuffle(inside)  # the shuffle of bench_answers.py: its first 500 are reported
    out = [(r["text"], r["metadata"]["answers"], service.search(r["text"], SOURCES)) for r in inside[500:4500]]
    service.close()
    return out


def korean_rows() -> list[tuple[str, list[str], list]]:
    service, _ = service_for("korquad")
    corpus, queries, qrels, answers = read_squad(SHARED / "data" / "korquad" / "KorQuAD_v1.0_dev.json")
    index_corpus(service, corpus)
    even = [q for q in queries if article_of(next(iter(qrels[q]))) % 2 == 0]
    random.Random(0).shuffle(even)  # as bench_answers.py: its first 600 are reported
    out = [(queries[q], answers[q], service.search(queries[q], SOURCES)) for q in even[600:]]
    service.close()
    return out


def groups(rows) -> list[tuple[np.ndarray, np.ndarray]]:
    out = []
    for question, gold, hits in rows:
        asked, candidates, first = scored_candidates(question, hits)
        if not first:
            continue
        features = dict(zip(map(id, candidates), sentence_features(asked, candidates, hits, question), strict=True))
        holds = np.array([contains_gold(c.text, gold) for c in first])
        if holds.any():
            out.append((np.array([features[id(c)] for c in first], dtype=float), holds))
    return out


def fit(data: list[tuple[np.ndarray, np.ndarray]], iterations: int = 300, rate: float = 0.5) -> np.ndarray:
    stacked = np.vstack([f for f, _ in data])
    mean, scale = stacked.mean(0), stacked.std(0)
    scale[scale < 1e-9] = math.inf  # a feature that never varies (Korean has no bigram names) keeps weight 0
    standard = [((f - mean) / scale, y) for f, y in data]
    weights = np.zeros(stacked.shape[1])
    for _ in range(iterations):
        gradient = np.zeros_like(weights)
        for f, y in standard:
            s = f @ weights
            p = np.exp(s - s.max())
            p /= p.sum()
            held = p * y / p[y].sum()
            gradient += held @ f - p @ f
        weights += rate * (gradient / len(standard) - L2 * weights)
    return weights / scale


def top1(data, weights) -> float:
    return sum(bool(y[int(np.argmax(f @ weights))]) for f, y in data) / len(data)


def main() -> None:
    cache = REPO / ".cache" / "fit-answers-hits.pkl"
    if cache.exists() and "--fresh" not in sys.argv:
        sets = pickle.loads(cache.read_bytes())
    else:
        sets = {"en": english_rows(), "ko": korean_rows()}
        cache.write_bytes(pickle.dumps(sets))
    for language, rows in sets.items():
        data = groups(rows)
        # Fit on four fifths, report the held-back fifth's top-1 (a check, not a choice).
        cut = len(data) * 4 // 5
        check = top1(data[cut:], fit(data[:cut]))
        weights = fit(data)
        print(f"# {language}: {len(data)} questions; best sentence holds a gold answer: "
              f"{top1(data, weights):.3f} (fitted on 4/5, checked on 1/5: {check:.3f})")
        print(f'    "{language}": {{' + ", ".join(f'"{n}": {w:.3f}' for n, w in zip(FEATURES, weights, strict=True)
                                                 if abs(w) >= 5e-4) + "},")


if __name__ == "__main__":
    main()
