"""Fusing a dense and a keyword ranking of one query, over (key, score) pairs best first.

`convex`, the default, adds the two rankings' scores after putting each on the scale of
its own distribution for this query: a score counts by how many standard deviations it
stands above the weakest candidate of its ranking. A ranking whose top stands far above
the rest (a keyword match on a rare name) speaks loudly; a flat one (cosines of 0.31 to
0.35) barely moves the order. Unlike min-max or max scaling, one outlier does not squash
everything else, and a candidate missing from a ranking is simply at its floor. The dense
weight depends on the question's language (the retriever picks it): measured on SciFact,
SQuAD and KorQuAD against fixed weights, min-max scaling and reciprocal rank fusion
(docs/BENCHMARKS.md, bench/bench_ranking.py).

A passage in another language than the question is judged by the dense side alone
(`keyword_blind`): the keyword index cannot see it, which is no evidence against it.
"""

from __future__ import annotations

import statistics
from collections.abc import Collection, Hashable, Sequence
from typing import TypeVar

K = TypeVar("K", bound=Hashable)


def standardised(ranking: Sequence[tuple[K, float]]) -> list[tuple[K, float]]:
    """(key, (score - lowest) / standard deviation) over the ranking's own candidates."""
    if not ranking:
        return []
    values = [score for _, score in ranking]
    low = min(values)
    spread = statistics.pstdev(values) or 1.0
    return [(key, (score - low) / spread) for key, score in ranking]


def convex(
    dense: Sequence[tuple[K, float]],
    keyword: Sequence[tuple[K, float]],
    *,
    dense_weight: float,
    keyword_blind: Collection[K] = (),
) -> list[tuple[K, float]]:
    """dense_weight x standardised cosine + (1 - dense_weight) x standardised BM25, best
    first (ties in first-seen order: dense, then keyword). `keyword_blind` keys are scored
    by the dense side alone, on the full scale."""
    blind = set(keyword_blind)
    scores: dict[K, float] = {}
    for key, score in standardised(dense):
        scores[key] = (1.0 if key in blind else dense_weight) * score
    for key, score in standardised(keyword):
        if key not in blind:
            scores[key] = scores.get(key, 0.0) + (1 - dense_weight) * score
    return sorted(scores.items(), key=lambda item: -item[1])


def rrf(dense: Sequence[tuple[K, float]], keyword: Sequence[tuple[K, float]], *, k: int = 60) -> list[tuple[K, float]]:
    """Reciprocal rank fusion: sum of 1 / (k + rank) over the rankings."""
    scores: dict[K, float] = {}
    for ranking in (dense, keyword):
        for rank, (key, _) in enumerate(ranking, start=1):
            scores[key] = scores.get(key, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda item: -item[1])
