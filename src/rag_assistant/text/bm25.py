"""A small in-memory BM25 index, for stores without a keyword engine of their own (the
DynamoDB store keeps it next to the cached vectors in a warm Lambda)."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence

from .keywords import keyword_terms as tokenize


class BM25Index:
    def __init__(self, texts: Sequence[str], *, k1: float = 1.2, b: float = 0.75) -> None:
        self._k1, self._b = k1, b
        self._postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
        self._lengths = []
        for doc, text in enumerate(texts):
            counts = Counter(tokenize(text))
            self._lengths.append(sum(counts.values()))
            for term, tf in counts.items():
                self._postings[term].append((doc, tf))
        self._avg = (sum(self._lengths) / len(self._lengths)) if self._lengths else 0.0

    def __len__(self) -> int:
        return len(self._lengths)

    def search(self, query: str, top_k: int) -> list[tuple[int, float]]:
        """(text index, score) pairs, best first; only texts sharing a term with the query."""
        n = len(self._lengths)
        scores: dict[int, float] = defaultdict(float)
        for term in set(tokenize(query)):
            postings = self._postings.get(term)
            if not postings:
                continue
            idf = math.log(1 + (n - len(postings) + 0.5) / (len(postings) + 0.5))
            for doc, tf in postings:
                norm = self._k1 * (1 - self._b + self._b * self._lengths[doc] / (self._avg or 1))
                scores[doc] += idf * tf * (self._k1 + 1) / (tf + norm)
        return sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:top_k]
