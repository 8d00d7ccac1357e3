"""The offline answerer: quotes the sentences of the retrieved chunks that best answer the
question, each cited with its source number. No LLM, no network, nothing invented.

A sentence's score mixes its embedding similarity to the question with how many of the
question's content words it contains (embeddings alone favour on-topic sentences that do
not answer; words alone favour sentences that repeat the question), plus a small prior
for the rank of the chunk it came from.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from ..embedding.base import Embedder
from ..models import SearchHit
from ..retrieval.retriever import unreadable_by
from ..text.keywords import keyword_terms, question_terms
from ..text.sentences import split_sentences
from .base import GeneratedAnswer, no_answer_text

_MIN_SENTENCE_CHARS = 12
_MAX_SENTENCE_CHARS = 600


@dataclass(frozen=True, slots=True)
class _Candidate:
    source: int  # 1-based source number
    position: int
    text: str


class ExtractiveAnswerer:
    name = "extractive"
    streams_text = False

    def __init__(
        self,
        embedder: Embedder,
        *,
        min_relevance: float = 0.40,
        max_sentences: int = 3,
        max_sources: int = 5,
        max_chars: int = 900,
    ) -> None:
        self._embedder = embedder
        self._min_relevance = min_relevance
        self._max_sentences = max_sentences
        self._max_sources = max_sources
        self._max_chars = max_chars

    def generate(self, question: str, hits: Sequence[SearchHit]) -> GeneratedAnswer:
        candidates = [
            _Candidate(source=n, position=i, text=sentence[:_MAX_SENTENCE_CHARS])
            for n, hit in enumerate(hits[: self._max_sources], start=1)
            for i, sentence in enumerate(split_sentences(hit.chunk.text))
            if len(sentence) >= _MIN_SENTENCE_CHARS
        ]
        if not candidates:
            return GeneratedAnswer(no_answer_text(question), answered=False, quotes={})

        scores, vectors, relevance = self._score(question, candidates, hits)
        if relevance < self._min_relevance:
            # Nothing retrieved is about the question: say so rather than quote noise.
            return GeneratedAnswer(no_answer_text(question), answered=False, quotes={})
        chosen = self._select(scores, vectors, candidates)
        quotes: dict[int, list[str]] = {}
        parts: list[str] = []
        for k, index in enumerate(chosen):
            candidate = candidates[index]
            quotes.setdefault(candidate.source, []).append(candidate.text)
            # One citation per run of sentences from the same source.
            run_ends = k + 1 == len(chosen) or candidates[chosen[k + 1]].source != candidate.source
            parts.append(f"{candidate.text} [{candidate.source}]" if run_ends else candidate.text)
        return GeneratedAnswer(
            " ".join(parts),
            answered=True,
            quotes={n: " … ".join(q) for n, q in quotes.items()},
            cited=tuple(dict.fromkeys(candidates[i].source for i in chosen)),
            grounded=True,  # every sentence is quoted verbatim from the source it cites
        )

    def generate_stream(self, question: str, hits: Sequence[SearchHit]) -> Iterator[str | GeneratedAnswer]:
        answer = self.generate(question, hits)
        yield answer.text
        yield answer

    def _score(
        self, question: str, candidates: list[_Candidate], hits: Sequence[SearchHit]
    ) -> tuple[np.ndarray, np.ndarray, float]:
        """Per-candidate scores, their vectors, and how relevant the best one is (0..1)."""
        question_vector = self._embedder.embed_query(question)
        vectors = self._embedder.embed_documents([c.text for c in candidates])
        similarity = vectors @ question_vector
        wanted = set(question_terms(question))
        overlap = np.array(
            [len(wanted & set(keyword_terms(c.text))) / len(wanted) if wanted else 0.0 for c in candidates],
            dtype=np.float32,
        )
        top = max(h.score for h in hits) or 1.0
        chunk_prior = np.array([hits[c.source - 1].score / top for c in candidates], dtype=np.float32)
        # Fragments (acronym lists, headings, table cells) match words but answer nothing.
        fragment = np.array([_fragment_penalty(c.text) for c in candidates], dtype=np.float32)
        if unreadable_by(self._embedder, question):
            # The model cannot read the question (MiniLM and Korean): its similarities are
            # noise, so relevance and ranking rest on the shared keyword terms.
            similarity = np.zeros_like(similarity)
            relevance = float(overlap.max())
        else:
            relevance = float((0.5 * np.clip(similarity, 0, 1) + 0.5 * overlap).max())
        return similarity + 0.5 * overlap + 0.3 * chunk_prior - fragment, vectors, relevance

    def _select(
        self, scores: np.ndarray, vectors: np.ndarray, candidates: list[_Candidate]
    ) -> list[int]:
        order = [int(i) for i in np.argsort(-scores)]
        best = scores[order[0]]
        chosen: list[int] = [order[0]]
        length = len(candidates[order[0]].text)
        for index in order[1:]:
            if len(chosen) >= self._max_sentences or scores[index] < best - 0.1:
                break
            if length + len(candidates[index].text) > self._max_chars:
                continue
            # Overlapping chunks repeat sentences: skip near-duplicates of what we have.
            if max(float(vectors[index] @ vectors[j]) for j in chosen) > 0.9:
                continue
            chosen.append(index)
            length += len(candidates[index].text)
        chosen = self._continue_lists(chosen, candidates, length)
        # Read in document order within a source, sources in rank order.
        return sorted(chosen, key=lambda i: (candidates[i].source, candidates[i].position))

    def _continue_lists(self, chosen: list[int], candidates: list[_Candidate], length: int) -> list[int]:
        """A chosen sentence that announces a list ("...the following tenets:") is useless
        without the list: take the items that follow it in the same chunk while they fit."""
        where = {(c.source, c.position): i for i, c in enumerate(candidates)}
        result = list(chosen)
        for index in chosen:
            if not candidates[index].text.rstrip().endswith(":"):
                continue
            source, position = candidates[index].source, candidates[index].position + 1
            last_position = max(c.position for c in candidates if c.source == source)
            while position <= last_position:
                nxt = where.get((source, position))
                if nxt is not None and nxt not in result:
                    if length + len(candidates[nxt].text) > self._max_chars:
                        break
                    result.append(nxt)
                    length += len(candidates[nxt].text)
                position += 1
        return result


_TERMINAL = (".", "!", "?", ":", "。", "！", "？", "다", ")", '"', "”")


def _fragment_penalty(sentence: str) -> float:
    penalty = 0.0
    if not sentence.rstrip().endswith(_TERMINAL):
        penalty += 0.1
    if len(sentence.split()) < 6:
        penalty += 0.1
    return penalty
