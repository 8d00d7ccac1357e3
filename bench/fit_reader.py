"""Chooses how the extractive answerer weighs its sentence reader (answering/extractive.py,
READER_*): the reader's weight in a sentence's score, the gate (words' share + weight x the
best log-odds), and when a second sentence is quoted.

Tuning questions only, never a reported one (bench/bench_answers.py) nor one the reader was
trained on (bench/train_reader.py):
- answerable: SQuAD v1.1 dev questions of the indexed articles with article % 8 == 1;
- unanswerable: questions about the held-out articles (article % 4 == 3) after the 300 that
  bench_answers.py reports.
The rule: the most containment with at least MIN_DECLINED of the unanswerable declined.

    RAG_SHARED_DIR=/work/shared .venv/bin/python bench/fit_reader.py [--band]

--band: the chosen weights with the reader asked only where it can change the gate's decision
(READING_RANGE), against asked on every question.
"""

from __future__ import annotations

import gzip
import itertools
import json
import random
import sys

from bench_answers import HELD_OUT_EVERY, REPO, SHARED, service_for

from rag_assistant.answering import extractive
from rag_assistant.answering.extractive import ExtractiveAnswerer
from rag_assistant.answering.reader import cached_reader
from rag_assistant.config import Settings
from rag_assistant.evaluation.answers import answer_body, contains_gold
from rag_assistant.evaluation.beir import read_corpus
from rag_assistant.evaluation.runner import index_corpus
from rag_assistant.evaluation.squad import article_of

MIN_DECLINED = 0.82


class RememberingReader:
    """The real reader, each (question, sentence) read once across the grid."""

    def __init__(self, reader) -> None:
        self.reader, self.name, self.seen = reader, reader.name, {}

    def read(self, question, sentences):
        missing = [s for s in sentences if (question, s) not in self.seen]
        for s, r in zip(missing, self.reader.read(question, missing), strict=True):
            self.seen[question, s] = r
        return [self.seen[question, s] for s in sentences]


def tuning_rows():
    service, _ = service_for("squad")
    corpus = read_corpus(SHARED / "data" / "squad-v1.1" / "corpus.jsonl.gz")
    index_corpus(service, [d for d in corpus if article_of(d.doc_id) % HELD_OUT_EVERY != HELD_OUT_EVERY - 1])
    with gzip.open(SHARED / "data" / "squad-v1.1" / "queries.jsonl.gz", "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    calibration = [r for r in rows if article_of(r["metadata"]["doc_id"]) % 8 == 1]
    outside = [r for r in rows if article_of(r["metadata"]["doc_id"]) % HELD_OUT_EVERY == HELD_OUT_EVERY - 1]
    random.Random(0).shuffle(calibration)
    random.Random(0).shuffle(outside)  # as bench_answers.py: its first 300 are reported
    answerable = [(r["text"], r["metadata"]["answers"], service.search(r["text"])) for r in calibration[:800]]
    unanswerable = [(r["text"], [], service.search(r["text"])) for r in outside[300:1100]]
    service.close()
    return answerable, unanswerable


def evaluate(answerer, answerable, unanswerable) -> tuple[float, float, float]:
    contains = declined = 0
    lengths = []
    for question, gold, hits in answerable:
        answer = answerer.generate(question, hits)
        if answer.answered:
            body = answer_body(answer.text)
            contains += contains_gold(body, gold)
            lengths.append(len(body))
    for question, _, hits in unanswerable:
        declined += not answerer.generate(question, hits).answered
    lengths.sort()
    return contains / len(answerable), declined / len(unanswerable), lengths[len(lengths) // 2] if lengths else 0


def compare_band(answerable, unanswerable, reader, min_relevance: float) -> None:
    """The chosen weights, the reader asked only inside the band where it can change the gate
    (READING_RANGE) against asked on every question: what the skipped readings cost."""
    for label, reading_range in (("every question", (-1e9, 1e9)), ("the band only", extractive.READING_RANGE)):
        counting = CountingReader(reader)
        extractive.READING_RANGE = reading_range
        contains, declined, length = evaluate(ExtractiveAnswerer(min_relevance=min_relevance, reader=counting),
                                              answerable, unanswerable)
        asked = counting.questions / (len(answerable) + len(unanswerable))
        print(f"reader on {label}: contains {contains:.3f} declined {declined:.3f} p50 {length} chars, "
              f"reader asked for {asked:.1%} of the questions")


class CountingReader:
    def __init__(self, reader) -> None:
        self.reader, self.name, self.questions = reader, reader.name, 0

    def read(self, question, sentences):
        self.questions += 1
        return self.reader.read(question, sentences)


def main() -> None:
    answerable, unanswerable = tuning_rows()
    reader = RememberingReader(cached_reader(REPO / ".cache"))
    min_relevance = Settings().min_relevance
    words = ExtractiveAnswerer(min_relevance=min_relevance)
    contains, declined, length = evaluate(words, answerable, unanswerable)
    print(f"words only: contains {contains:.3f} declined {declined:.3f} p50 {length} chars")
    if "--band" in sys.argv:
        compare_band(answerable, unanswerable, reader, min_relevance)
        return
    extractive.READING_RANGE = (-1e9, 1e9)  # the grid: the reader on every question
    results = []
    for weight, gate_weight, offset, odds in itertools.product(
            (0.5, 1.0, 2.0, 3.0), (0.03, 0.06, 0.1), (-0.15, -0.05, 0.05), (0.3, 0.5, 0.7, 1.01)):
        extractive.READER_WEIGHT, extractive.READER_GATE_WEIGHT = weight, gate_weight
        extractive.READER_GATE_OFFSET, extractive.READER_SECOND_SENTENCE_ODDS = offset, odds
        answerer = ExtractiveAnswerer(min_relevance=min_relevance, reader=reader)
        contains, declined, length = evaluate(answerer, answerable, unanswerable)
        results.append((contains, declined, length, weight, gate_weight, offset, odds))
    eligible = sorted((r for r in results if r[1] >= MIN_DECLINED), reverse=True)
    print("contains declined p50chars | weight gate_weight offset second_odds")
    for contains, declined, length, *weights in eligible[:15]:
        print(f"{contains:.3f} {declined:.3f} {length:4d} | " + " ".join(f"{w:.2f}" for w in weights))


if __name__ == "__main__":
    main()
