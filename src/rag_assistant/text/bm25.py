"""BM25 over stored keyword terms, numpy only: the one keyword ranking of both homes (the
SQLite store locally, the DynamoDB store's warm corpus on AWS), so both rank alike.

Two choices measured on the benchmark sets (docs/BENCHMARKS.md, bench/bench_ranking.py):
- `BM25Parameters`: k1 and b, with a pair per language (a chunk's language is fixed when
  it is indexed: `language_code`). Hangul bigrams are shorter, more numerous and more
  repetitive than stemmed English words, and saturate differently.
- passage aggregation per document (`document_weight`, `Groups`): a chunk's score is its
  own BM25 plus `document_weight` x the BM25 of its whole document (the terms of all its
  chunks). A passage of a document about the question as a whole outranks an equally
  matching passage of an unrelated one; short chunks (Korean) and abstracts split into
  several chunks (SciFact) gain most.
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
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .keywords import keyword_terms
from .language import is_korean

#: Row language codes. Korean is indexed as Hangul bigrams, whose lengths and term
#: frequencies differ from stemmed words: each language may have its own k1 and b.
LANGUAGES = ("en", "ko")


def language_code(text: str) -> int:
    return LANGUAGES.index("ko") if is_korean(text) else 0


@dataclass(frozen=True)
class BM25Parameters:
    """Chosen on SciFact train (English) and KorQuAD's even articles (Korean):
    English k1 0.9 / b 0.4, Korean 0.45 / 0.75 (re-chosen with the terms of
    keywords.TERMS_VERSION 2), documents weigh 1.0."""

    k1: float = 0.9
    b: float = 0.4
    #: language -> (k1, b), overriding the defaults for rows of that language.
    by_language: dict[str, tuple[float, float]] = field(default_factory=lambda: {"ko": (0.45, 0.75)})
    #: Weight of a chunk's whole document in its score (0: chunks alone).
    document_weight: float = 1.0

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


@dataclass(frozen=True)
class Groups:
    """Which document each row of a segment belongs to, and each document's length and
    language (those of its first row), for passage aggregation. All rows of a document
    live and die together, so a document is live when its first row is."""

    of_row: np.ndarray  # int32: row -> group
    first_row: np.ndarray  # int64: group -> its first row
    lengths: np.ndarray  # float32: group -> the summed lengths of its rows
    languages: np.ndarray  # uint8

    @classmethod
    def from_labels(cls, labels: Sequence[Hashable], postings: Postings) -> Groups:
        """Groups of rows with the same label (a document id), in order of first appearance."""
        if len(labels) != len(postings):
            raise ValueError("one group per text")
        numbers: dict[Hashable, int] = {}
        of_row = np.fromiter((numbers.setdefault(label, len(numbers)) for label in labels),
                             dtype=np.int32, count=len(labels))
        # Groups are numbered in order of first appearance: group g first shows at first_row[g].
        first_row = np.unique(of_row, return_index=True)[1].astype(np.int64)
        lengths = np.bincount(of_row, weights=postings.lengths, minlength=len(numbers)).astype(np.float32)
        return cls(of_row, first_row, lengths, postings.languages[first_row])

    @classmethod
    def from_sizes(cls, sizes: Sequence[int], postings: Postings) -> Groups:
        """Contiguous groups of the given sizes (a segment's documents, in row order): numpy
        only, as a snapshot load (a Lambda cold start) builds one for every document."""
        counts = np.asarray(sizes, dtype=np.int64)
        if int(counts.sum()) != len(postings):
            raise ValueError("one group per text")
        of_row = np.repeat(np.arange(len(counts), dtype=np.int32), counts)
        first_row = np.zeros(len(counts), dtype=np.int64)
        np.cumsum(counts[:-1], out=first_row[1:])
        lengths = np.bincount(of_row, weights=postings.lengths, minlength=len(counts)).astype(np.float32)
        return cls(of_row, first_row, lengths, postings.languages[first_row])


def _averages(units: Iterable[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Average length per language over (lengths, languages) of live units."""
    total_length = np.zeros(len(LANGUAGES), dtype=np.float64)
    per_language = np.zeros(len(LANGUAGES), dtype=np.float64)
    for lengths, languages in units:
        total_length += np.bincount(languages, weights=lengths, minlength=len(LANGUAGES))
        per_language += np.bincount(languages, minlength=len(LANGUAGES))
    average = (total_length / np.maximum(per_language, 1)).astype(np.float32)
    average[average == 0] = 1.0
    return average


def _idf(n: int, df: int) -> float:
    return math.log(1 + (n - df + 0.5) / (df + 0.5))


def bm25_scores(
    query_ids: Sequence[int], segments: Sequence[tuple[Postings, np.ndarray]], parameters: BM25Parameters,
    groups: Sequence[Groups] | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per segment: (rows, scores) of the live rows sharing a term with the query.

    `segments` pairs each segment with its live mask. Scores are Okapi BM25 with
    Lucene's non-negative idf, log(1 + (N - df + 0.5) / (df + 0.5)), and an average
    length per language. With `groups` (one per segment), a row's score adds
    `parameters.document_weight` x its document's BM25 over the live documents."""
    k1_of, b_of = parameters.arrays()
    live_rows = sum(int(live.sum()) for _, live in segments)
    if live_rows == 0 or not query_ids:
        return [(np.zeros(0, np.int32), np.zeros(0, np.float32)) for _ in segments]
    average = _averages((postings.lengths[live], postings.languages[live]) for postings, live in segments)

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
    idfs = [_idf(live_rows, df) for df in frequencies.values()]

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
    if groups is not None and parameters.document_weight:
        results = _with_documents(results, matched, segments, groups, parameters)
    return results


def _with_documents(
    results: list[tuple[np.ndarray, np.ndarray]], matched: list[list[tuple[np.ndarray, np.ndarray]]],
    segments: Sequence[tuple[Postings, np.ndarray]], groups: Sequence[Groups], parameters: BM25Parameters,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Add document_weight x the BM25 of each matched row's document: a document is the
    bag of its rows' terms, scored over the live documents as rows are over live rows."""
    k1_of, b_of = parameters.arrays()
    alive = [live[g.first_row] for (_, live), g in zip(segments, groups, strict=True)]
    live_documents = sum(int(a.sum()) for a in alive)
    average = _averages((g.lengths[a], g.languages[a]) for g, a in zip(groups, alive, strict=True))
    # Per segment and term: (documents, summed term frequency) of the matched live rows.
    per_term: list[list[tuple[np.ndarray, np.ndarray]]] = []
    for g, terms in zip(groups, matched, strict=True):
        found = []
        for rows, tfs in terms:
            unique, inverse = np.unique(g.of_row[rows], return_inverse=True)
            found.append((unique, np.bincount(inverse, weights=tfs).astype(np.float32)))
        per_term.append(found)
    term_count = len(matched[0]) if matched else 0
    idfs = [_idf(live_documents, sum(len(found[t][0]) for found in per_term)) for t in range(term_count)]
    out = []
    for (rows, scores), g, found in zip(results, groups, per_term, strict=True):
        if not len(rows):
            out.append((rows, scores))
            continue
        document_scores = np.zeros(len(g.first_row), dtype=np.float32)
        for (documents, tfs), idf in zip(found, idfs, strict=True):
            if not len(documents):
                continue
            language = g.languages[documents]
            k1, b = k1_of[language], b_of[language]
            norm = k1 * (1 - b + b * g.lengths[documents] / average[language])
            document_scores[documents] += idf * tfs * (k1 + 1) / (tfs + norm)
        out.append((rows, scores + np.float32(parameters.document_weight) * document_scores[g.of_row[rows]]))
    return out


class BM25Index:
    """A one-segment BM25 index over texts: for callers that rank a handful of passages
    (and the tests of the scoring itself). Stores use the segmented form through
    store/corpus_index.py. With `groups` (the document of each text), passages are
    aggregated per document as the stores do."""

    def __init__(self, texts: Sequence[str], *, groups: Sequence[Hashable] | None = None,
                 parameters: BM25Parameters | None = None,
                 terms: Callable[[str], list[str]] = keyword_terms) -> None:
        self.parameters = parameters or BM25Parameters()
        self._terms = terms
        self.vocabulary = Vocabulary()
        rows = [row_terms(terms(t), self.vocabulary, language_code(t)) for t in texts]
        self._postings = Postings.build(rows, len(self.vocabulary))
        self._live = np.ones(len(rows), dtype=bool)
        self._groups = None if groups is None else Groups.from_labels(groups, self._postings)

    def __len__(self) -> int:
        return len(self._postings)

    def search(self, query: str, top_k: int) -> list[tuple[int, float]]:
        """(text index, score) pairs, best first; only texts sharing a term with the query."""
        ids = self.vocabulary.lookup(self._terms(query))
        ((rows, scores),) = bm25_scores(ids, [(self._postings, self._live)], self.parameters,
                                        None if self._groups is None else [self._groups])
        order = np.lexsort((rows, -scores))[:top_k]
        return [(int(rows[i]), float(scores[i])) for i in order]
