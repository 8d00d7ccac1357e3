"""BM25 over stored keyword terms, numpy only: the one keyword ranking of both homes (the
SQLite store locally, the DynamoDB store's warm corpus on AWS), so both rank alike.

The seams the retrieval tuning turns:
- `BM25Parameters`: k1 and b, with a pair per language (a chunk's language is fixed when
  it is indexed: `language_code`). Today's values are the defaults.
- the term function (text/keywords.keyword_terms) runs at index time and its output is
  stored; a store records `keywords.TERMS_VERSION` and re-derives the terms when it changes.

An index is a list of immutable segments (term-major postings: term id -> rows, term
frequencies) over one growing vocabulary, and a live mask per segment. Adding documents
makes a small segment; removing one clears its rows in the mask; `merged()` folds
everything into one segment. Statistics (N, average length, document frequency) are taken
over live rows at query time, so the scores equal those of an index built from scratch.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .keywords import keyword_terms
from .language import HANGUL_SYLLABLE, is_korean

#: Row language codes. Korean is indexed as Hangul bigrams, whose lengths and term
#: frequencies differ from stemmed words: each language may have its own k1 and b.
LANGUAGES = ("en", "ko")


def language_code(text: str) -> int:
    # Most chunks hold no Hangul at all: one search answers, without counting letters.
    return LANGUAGES.index("ko") if HANGUL_SYLLABLE.search(text) and is_korean(text) else 0


@dataclass(frozen=True)
class BM25Parameters:
    k1: float = 1.2
    b: float = 0.75
    #: language -> (k1, b), overriding the defaults for rows of that language.
    by_language: dict[str, tuple[float, float]] = field(default_factory=dict)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """k1 and b per language code."""
        pairs = [self.by_language.get(lang, (self.k1, self.b)) for lang in LANGUAGES]
        return (np.array([p[0] for p in pairs], dtype=np.float32),
                np.array([p[1] for p in pairs], dtype=np.float32))


class Vocabulary:
    """term <-> id, append-only (ids stay valid for every segment built on it)."""

    def __init__(self, terms: Iterable[str] = ()) -> None:
        self.terms: list[str] = list(terms)
        self.ids: dict[str, int] = {t: i for i, t in enumerate(self.terms)}

    def __len__(self) -> int:
        return len(self.terms)

    def add(self, term: str) -> int:
        found = self.ids.get(term)
        if found is None:
            found = self.ids[term] = len(self.terms)
            self.terms.append(term)
        return found

    def lookup(self, terms: Iterable[str]) -> list[int]:
        return [i for i in (self.ids.get(t) for t in terms) if i is not None]

    def to_bytes(self) -> bytes:
        return "\n".join(self.terms).encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> Vocabulary:
        return cls(data.decode("utf-8").split("\n") if data else ())


@dataclass(frozen=True)
class RowTerms:
    """One row's terms as (term ids, counts): what a store keeps per chunk."""

    ids: np.ndarray  # int32, unique
    counts: np.ndarray  # uint16
    language: int = 0

    @property
    def length(self) -> int:
        return int(self.counts.sum())


def row_terms(terms: Sequence[str], vocabulary: Vocabulary, language: int = 0) -> RowTerms:
    counts = Counter(terms)
    ids = np.fromiter((vocabulary.add(t) for t in counts), dtype=np.int32, count=len(counts))
    tfs = np.fromiter(counts.values(), dtype=np.uint16, count=len(counts))
    return RowTerms(ids, tfs, language)


class Postings:
    """One segment's keyword side: term-major CSR over the shared vocabulary."""

    __slots__ = ("indptr", "rows", "tfs", "lengths", "languages")

    def __init__(self, indptr: np.ndarray, rows: np.ndarray, tfs: np.ndarray,
                 lengths: np.ndarray, languages: np.ndarray) -> None:
        self.indptr, self.rows, self.tfs = indptr, rows, tfs
        self.lengths, self.languages = lengths, languages

    @classmethod
    def build(cls, rows: Sequence[RowTerms], vocabulary_size: int) -> Postings:
        sizes = np.fromiter((len(r.ids) for r in rows), dtype=np.int64, count=len(rows))
        term_ids = np.concatenate([r.ids for r in rows]) if rows else np.zeros(0, np.int32)
        tfs = np.concatenate([r.counts for r in rows]) if rows else np.zeros(0, np.uint16)
        row_ids = np.repeat(np.arange(len(rows), dtype=np.int32), sizes)
        lengths = np.fromiter((r.length for r in rows), dtype=np.float32, count=len(rows))
        languages = np.fromiter((r.language for r in rows), dtype=np.uint8, count=len(rows))
        return cls.from_pairs(term_ids, row_ids, tfs, lengths, languages, vocabulary_size)

    @classmethod
    def from_pairs(cls, term_ids: np.ndarray, row_ids: np.ndarray, tfs: np.ndarray, lengths: np.ndarray,
                   languages: np.ndarray, vocabulary_size: int) -> Postings:
        order = np.argsort(term_ids, kind="stable")
        counts = np.bincount(term_ids, minlength=vocabulary_size)
        indptr = np.zeros(len(counts) + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        return cls(indptr, row_ids[order].astype(np.int32), tfs[order].astype(np.uint16),
                   lengths.astype(np.float32), languages.astype(np.uint8))

    def __len__(self) -> int:
        return len(self.lengths)

    def postings(self, term_id: int) -> tuple[np.ndarray, np.ndarray]:
        if term_id + 1 >= len(self.indptr):
            return self.rows[:0], self.tfs[:0]
        start, end = self.indptr[term_id], self.indptr[term_id + 1]
        return self.rows[start:end], self.tfs[start:end]

    def pairs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(term id, row, tf) of every posting, for merging segments."""
        term_ids = np.repeat(np.arange(len(self.indptr) - 1, dtype=np.int32), np.diff(self.indptr))
        return term_ids, self.rows, self.tfs

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        return {f"{prefix}indptr": self.indptr, f"{prefix}rows": self.rows, f"{prefix}tfs": self.tfs,
                f"{prefix}lengths": self.lengths, f"{prefix}languages": self.languages}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], prefix: str) -> Postings:
        return cls(*(arrays[f"{prefix}{name}"] for name in cls.__slots__))


def bm25_scores(
    query_ids: Sequence[int], segments: Sequence[tuple[Postings, np.ndarray]], parameters: BM25Parameters
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per segment: (rows, scores) of the live rows sharing a term with the query.

    `segments` pairs each segment with its live mask. Scores are Okapi BM25 with
    Lucene's non-negative idf, log(1 + (N - df + 0.5) / (df + 0.5)), and an average
    length per language."""
    k1_of, b_of = parameters.arrays()
    live_rows = sum(int(live.sum()) for _, live in segments)
    if live_rows == 0 or not query_ids:
        return [(np.zeros(0, np.int32), np.zeros(0, np.float32)) for _ in segments]
    total_length = np.zeros(len(LANGUAGES), dtype=np.float64)
    rows_per_language = np.zeros(len(LANGUAGES), dtype=np.float64)
    for postings, live in segments:
        total_length += np.bincount(postings.languages[live], weights=postings.lengths[live],
                                    minlength=len(LANGUAGES))
        rows_per_language += np.bincount(postings.languages[live], minlength=len(LANGUAGES))
    average = (total_length / np.maximum(rows_per_language, 1)).astype(np.float32)
    average[average == 0] = 1.0

    # Each query term once (repeating a word does not make it weigh more), live postings only.
    matched: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in segments]
    frequencies: dict[int, int] = {}
    for term_id in dict.fromkeys(query_ids):
        df = 0
        for s, (postings, live) in enumerate(segments):
            rows, tfs = postings.postings(term_id)
            if len(rows):
                keep = live[rows]
                rows, tfs = rows[keep], tfs[keep]
                df += len(rows)
            matched[s].append((rows, tfs))
        frequencies[term_id] = df
    idfs = [math.log(1 + (live_rows - df + 0.5) / (df + 0.5)) for df in frequencies.values()]

    results = []
    for (postings, _), per_term in zip(segments, matched, strict=True):
        all_rows = [rows for rows, _ in per_term if len(rows)]
        if not all_rows:
            results.append((np.zeros(0, np.int32), np.zeros(0, np.float32)))
            continue
        rows = np.concatenate(all_rows)
        tfs = np.concatenate([tfs for r, tfs in per_term if len(r)]).astype(np.float32)
        idf = np.concatenate([np.full(len(r), w, np.float32) for (r, _), w in zip(per_term, idfs, strict=True)
                              if len(r)])
        language = postings.languages[rows]
        k1, b = k1_of[language], b_of[language]
        norm = k1 * (1 - b + b * postings.lengths[rows] / average[language])
        contribution = idf * tfs * (k1 + 1) / (tfs + norm)
        unique, inverse = np.unique(rows, return_inverse=True)
        scores = np.bincount(inverse, weights=contribution).astype(np.float32)
        results.append((unique.astype(np.int32), scores))
    return results


class BM25Index:
    """A one-segment BM25 index over texts: for callers that rank a handful of passages
    (and the tests of the scoring itself). Stores use the segmented form through
    store/corpus_index.py."""

    def __init__(self, texts: Sequence[str], *, parameters: BM25Parameters | None = None,
                 terms: Callable[[str], list[str]] = keyword_terms) -> None:
        self.parameters = parameters or BM25Parameters()
        self._terms = terms
        self.vocabulary = Vocabulary()
        rows = [row_terms(terms(t), self.vocabulary, language_code(t)) for t in texts]
        self._postings = Postings.build(rows, len(self.vocabulary))
        self._live = np.ones(len(rows), dtype=bool)

    def __len__(self) -> int:
        return len(self._postings)

    def search(self, query: str, top_k: int) -> list[tuple[int, float]]:
        """(text index, score) pairs, best first; only texts sharing a term with the query."""
        ids = self.vocabulary.lookup(self._terms(query))
        ((rows, scores),) = bm25_scores(ids, [(self._postings, self._live)], self.parameters)
        order = np.lexsort((rows, -scores))[:top_k]
        return [(int(rows[i]), float(scores[i])) for i in order]
