"""`rag eval --answers`: how well the configured answer generator answers, on questions with
gold answer strings (SQuAD format) — and how it declines questions the documents cannot
answer (SQuAD 2.0's `is_impossible`, or questions about articles held out of the index).

- contains gold: the answer (citation markers removed) contains a gold answer string, both
  SQuAD-normalised (lower case, no punctuation, no articles); counted over every answerable
  question, so declining one costs as much as answering it wrongly.
- declined: share of the unanswerable questions answered with "not in the documents".
- answer length in characters: containment is easy to buy with long answers, so it is
  reported beside it.
"""

from __future__ import annotations

import re
import statistics
import string
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..service import RagService

_PUNCTUATION = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(?:a|an|the)\b")
_CITATION = re.compile(r"\s*\[\d+\]")


def normalize_answer(text: str) -> str:
    """SQuAD's answer normalisation: lower case, punctuation and English articles removed."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def contains_gold(answer: str, gold: list[str]) -> bool:
    body = normalize_answer(answer)
    return any(g and g in body for g in map(normalize_answer, gold))


def answer_body(text: str) -> str:
    """The answer without its [n] citation markers (what a reader reads)."""
    return _CITATION.sub("", text).strip()


@dataclass
class AnswerReport:
    answerable: int
    unanswerable: int
    #: answerable questions answered (not declined)
    answered: float | None
    #: answerable questions whose answer contains a gold answer
    contains_gold: float | None
    #: answerable questions with a gold answer somewhere in the sources given to the answerer
    gold_in_sources: float | None
    #: unanswerable questions declined
    declined: float | None
    answer_chars_p50: float | None
    answer_chars_p90: float | None
    answer_chars_max: int | None
    #: question to answer (retrieval included), milliseconds
    latency_ms_p50: float
    generator: str = "extractive"

    def to_dict(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def score_answers(
    service: RagService,
    queries: dict[str, str],
    answers: dict[str, list[str]],
    progress: Callable[[int], None] | None = None,
) -> AnswerReport:
    """Ask every query; a query with no gold answers is one the documents cannot answer."""
    answered = contains = in_sources = declined = 0
    lengths: list[int] = []
    latencies: list[float] = []
    generator = service.describe().generator
    answerable = [q for q in queries if answers.get(q)]
    unanswerable = [q for q in queries if not answers.get(q)]
    for query_id in answerable + unanswerable:
        started = time.perf_counter()
        answer = service.ask(queries[query_id])
        latencies.append((time.perf_counter() - started) * 1000)
        gold = answers.get(query_id) or []
        if gold:
            sources = " ".join(c.hit.chunk.text for c in answer.citations)
            in_sources += contains_gold(sources, gold)
            if answer.answered:
                answered += 1
                lengths.append(len(answer_body(answer.text)))
                contains += contains_gold(answer_body(answer.text), gold)
        else:
            declined += not answer.answered
        if progress:
            progress(1)
    n = len(answerable)
    return AnswerReport(
        answerable=n,
        unanswerable=len(unanswerable),
        answered=answered / n if n else None,
        contains_gold=contains / n if n else None,
        gold_in_sources=in_sources / n if n else None,
        declined=declined / len(unanswerable) if unanswerable else None,
        answer_chars_p50=float(statistics.median(lengths)) if lengths else None,
        answer_chars_p90=float(sorted(lengths)[int(0.9 * (len(lengths) - 1))]) if lengths else None,
        answer_chars_max=max(lengths) if lengths else None,
        latency_ms_p50=statistics.median(latencies) if latencies else 0.0,
        generator=generator,
    )
