"""The in-memory corpus index both stores search: dense vectors (one float32 matrix per
segment, scanned with BLAS) and BM25 over the stored keyword terms (text/bm25.py).

Why in memory: a numpy scan of 100k x 384 float32 vectors takes ~16 ms on this machine,
6x faster than sqlite-vec and 9x faster than FTS5 at the same size (docs/BENCHMARKS.md),
and the DynamoDB store has no query engine of its own anyway. The durable copy stays in
the store (SQLite rows, DynamoDB items); this index is rebuilt from it, refreshed per
changed document, and can be written as one compact snapshot (`to_bytes`) that a new
process loads in time independent of the number of items.

Concurrency: an update builds a new state and swaps it in; a search works on the state it
started with, so it never sees half of an update.
"""

from __future__ import annotations

import io
import itertools
import json
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..models import Chunk, SearchHit
from ..text.bm25 import (
    BM25Parameters,
    Groups,
    Postings,
    RowTerms,
    Vocabulary,
    bm25_scores,
    language_code,
    row_terms,
)
from ..text.keywords import TERMS_VERSION, keyword_terms

SNAPSHOT_FORMAT = 1
#: A merge folds the small segments together past this many...
_MAX_SEGMENTS = 8
#: ...and everything into one when dead or not-yet-merged rows pass this share.
_MERGE_SHARE = 0.25
_serials = itertools.count()


@dataclass(frozen=True)
class DocumentRows:
    """One document's live version, as a store hands it to the index."""

    document_id: str
    version: str
    file_name: str
    chunks: Sequence[Chunk]
    vectors: np.ndarray
    #: Stored terms per chunk (None: derive them from the chunk text now).
    terms: Sequence[Sequence[str]] | None = None


@dataclass(frozen=True)
class _Placement:
    version: str
    file_name: str
    segment: int  # serial
    start: int
    stop: int


class _Segment:
    """Immutable: rows, their vectors and their postings; a document's rows are contiguous."""

    def __init__(self, chunks: list[Chunk], file_names: list[str], vectors: np.ndarray, postings: Postings,
                 document_sizes: Sequence[int]) -> None:
        self.serial = next(_serials)
        self.chunks, self.file_names, self.vectors, self.postings = chunks, file_names, vectors, postings
        self.groups = Groups.from_sizes(document_sizes, postings)

    def __len__(self) -> int:
        return len(self.chunks)


@dataclass(frozen=True)
class _State:
    segments: tuple[_Segment, ...]
    live: dict[int, np.ndarray]  # serial -> mask
    documents: dict[str, _Placement]

    def pairs(self) -> list[tuple[_Segment, np.ndarray]]:
        return [(s, self.live[s.serial]) for s in self.segments]


class CorpusIndex:
    def __init__(self, dimension: int, *, parameters: BM25Parameters | None = None,
                 terms: Callable[[str], list[str]] = keyword_terms) -> None:
        self.dimension = dimension
        self.parameters = parameters or BM25Parameters()
        self._terms = terms
        self._vocabulary = Vocabulary()
        self._state = _State((), {}, {})
        self._lock = threading.Lock()
        #: The store's change counter this index reflects (None: never loaded).
        self.version: int | None = None
        #: Which store the index belongs to (kept in snapshots, checked when one is loaded).
        self.label: str | None = None

    # --- what is in it -------------------------------------------------------------------

    def __len__(self) -> int:
        return sum(int(live.sum()) for live in self._state.live.values())

    def documents(self) -> dict[str, str]:
        """document id -> the version indexed."""
        return {d: p.version for d, p in self._state.documents.items()}

    def document_ids(self) -> set[str]:
        return set(self._state.documents)

    # --- changes -------------------------------------------------------------------------

    def update(self, put: Iterable[DocumentRows] = (), remove: Iterable[str] = (), *, version: int | None = None) -> None:
        """Make `put` the live versions of their documents and drop `remove`, in one step."""
        put = list(put)
        with self._lock:
            state = self._state
            live = dict(state.live)
            documents = dict(state.documents)
            for document_id in itertools.chain(remove, (d.document_id for d in put)):
                placement = documents.pop(document_id, None)
                if placement is not None:
                    mask = live[placement.segment] = live[placement.segment].copy()
                    mask[placement.start : placement.stop] = False
            segments = list(state.segments)
            rows = [d for d in put if len(d.chunks)]
            if rows:
                segment = self._segment(rows)
                segments.append(segment)
                live[segment.serial] = np.ones(len(segment), dtype=bool)
                start = 0
                for d in rows:
                    documents[d.document_id] = _Placement(d.version, d.file_name, segment.serial, start,
                                                          start + len(d.chunks))
                    start += len(d.chunks)
            # Segments with no live row left are dropped at once.
            segments = [s for s in segments if live[s.serial].any()]
            live = {s.serial: live[s.serial] for s in segments}
            self._state = self._compacted(_State(tuple(segments), live, documents))
            if version is not None:
                self.version = version

    def _segment(self, documents: Sequence[DocumentRows]) -> _Segment:
        chunks: list[Chunk] = []
        file_names: list[str] = []
        rows: list[RowTerms] = []
        for d in documents:
            if len(d.chunks) != len(d.vectors):
                raise ValueError(f"{d.document_id}: {len(d.chunks)} chunks but {len(d.vectors)} vectors")
            stored = d.terms if d.terms is not None else [self._terms(c.embedding_text()) for c in d.chunks]
            for chunk, terms in zip(d.chunks, stored, strict=True):
                chunks.append(chunk)
                file_names.append(d.file_name)
                rows.append(row_terms(terms, self._vocabulary, language_code(chunk.text)))
        vectors = np.ascontiguousarray(np.concatenate([np.asarray(d.vectors, np.float32) for d in documents]))
        if vectors.shape[1] != self.dimension:
            raise ValueError(f"expected {self.dimension}-dimensional vectors, got {vectors.shape[1]}")
        return _Segment(chunks, file_names, vectors, Postings.build(rows, len(self._vocabulary)),
                        [len(d.chunks) for d in documents])

    def _compacted(self, state: _State) -> _State:
        if not state.segments:
            return state
        total = sum(len(s) for s in state.segments)
        base = max(state.segments, key=len)
        live_in_base = int(state.live[base.serial].sum())
        # Rows that are dead, or live outside the largest segment: scanned for nothing, or
        # scanned in small pieces.
        if total - live_in_base > _MERGE_SHARE * total:
            return self._merge(state, list(state.segments))
        if len(state.segments) > _MAX_SEGMENTS:
            return self._merge(state, [s for s in state.segments if s is not base])
        return state

    def _merge(self, state: _State, merging: list[_Segment]) -> _State:
        """Fold `merging` into one segment of their live rows (ids of rows change; the
        documents' placements follow)."""
        chunks: list[Chunk] = []
        file_names: list[str] = []
        vectors, term_ids, row_ids, tfs, lengths, languages = [], [], [], [], [], []
        new_start: dict[int, np.ndarray] = {}
        offset = 0
        for segment in merging:
            mask = state.live[segment.serial]
            kept = np.flatnonzero(mask)
            position = np.full(len(segment), -1, dtype=np.int64)
            position[kept] = np.arange(len(kept)) + offset
            new_start[segment.serial] = position
            chunks += [segment.chunks[i] for i in kept]
            file_names += [segment.file_names[i] for i in kept]
            vectors.append(segment.vectors[kept])
            terms, rows, counts = segment.postings.pairs()
            alive = mask[rows]
            term_ids.append(terms[alive])
            row_ids.append(position[rows[alive]].astype(np.int32))
            tfs.append(counts[alive])
            lengths.append(segment.postings.lengths[kept])
            languages.append(segment.postings.languages[kept])
            offset += len(kept)
        postings = Postings.from_pairs(np.concatenate(term_ids), np.concatenate(row_ids), np.concatenate(tfs),
                                       np.concatenate(lengths), np.concatenate(languages), len(self._vocabulary))
        merged_serials = {s.serial for s in merging}
        # Live documents keep their rows together and in order through the merge.
        sizes = [p.stop - p.start for p in sorted(
            (p for p in state.documents.values() if p.segment in merged_serials),
            key=lambda p: new_start[p.segment][p.start])]
        merged = _Segment(chunks, file_names, np.ascontiguousarray(np.concatenate(vectors)), postings, sizes)
        segments = [s for s in state.segments if s.serial not in merged_serials] + [merged]
        live = {s.serial: state.live[s.serial] for s in segments if s is not merged}
        live[merged.serial] = np.ones(len(merged), dtype=bool)
        documents = {}
        for document_id, p in state.documents.items():
            if p.segment in merged_serials:
                start = int(new_start[p.segment][p.start])
                p = _Placement(p.version, p.file_name, merged.serial, start, start + (p.stop - p.start))
            documents[document_id] = p
        return _State(tuple(segments), live, documents)

    # --- search --------------------------------------------------------------------------

    def search(self, query_vector: np.ndarray, top_k: int) -> list[SearchHit]:
        """Top-k live chunks by cosine similarity (the vectors are unit length)."""
        if top_k < 1:
            return []
        query = np.asarray(query_vector, dtype=np.float32)
        candidates = []
        for segment, live in self._state.pairs():
            scores = segment.vectors @ query
            scores[~live] = -np.inf
            k = min(top_k, len(scores))
            best = np.argpartition(-scores, k - 1)[:k]
            candidates += [(float(scores[i]), segment, int(i)) for i in best if live[i]]
        return self._hits(candidates, top_k)

    def keyword_search(self, query: str, top_k: int) -> list[SearchHit]:
        """Top-k live chunks by BM25 over their stored terms."""
        ids = self._vocabulary.lookup(self._terms(query))
        if top_k < 1 or not ids:
            return []
        pairs = self._state.pairs()
        scored = bm25_scores(ids, [(s.postings, live) for s, live in pairs], self.parameters,
                             [s.groups for s, _ in pairs])
        candidates = []
        for (segment, _), (rows, scores) in zip(pairs, scored, strict=True):
            if len(rows) > top_k:
                # Everything tied with the k-th best stays: the final order (score, then chunk
                # id) must not depend on how the rows are split into segments.
                kth = -np.partition(-scores, top_k - 1)[top_k - 1]
                keep = scores >= kth
                rows, scores = rows[keep], scores[keep]
            candidates += [(float(s), segment, int(r)) for r, s in zip(rows, scores, strict=True)]
        return self._hits(candidates, top_k)

    def hits_for(self, matches: Iterable[tuple[str, str, float]]) -> list[SearchHit]:
        """(document id, chunk id, score) from an external vector index -> hits from this
        corpus, dropping chunks that are not live here (an old or unfinished version)."""
        state = self._state
        segments = {s.serial: s for s in state.segments}
        hits = []
        for document_id, chunk_id, score in matches:
            placement = state.documents.get(document_id)
            if placement is None:
                continue
            segment = segments[placement.segment]
            for row in range(placement.start, placement.stop):
                if segment.chunks[row].chunk_id == chunk_id:
                    hits.append(SearchHit(segment.chunks[row], segment.file_names[row], score))
                    break
        return hits

    @staticmethod
    def _hits(candidates: list[tuple[float, _Segment, int]], top_k: int) -> list[SearchHit]:
        # Ties broken by chunk id: the same corpus ranks the same way whatever its segments.
        candidates.sort(key=lambda c: (-c[0], c[1].chunks[c[2]].chunk_id))
        return [SearchHit(segment.chunks[row], segment.file_names[row], score)
                for score, segment, row in candidates[:top_k]]

    # --- snapshots -----------------------------------------------------------------------

    def to_bytes(self, *, quantize: bool = False) -> bytes:
        """One self-contained file (numpy .npz, no pickles): rows, vectors (int8 with a
        scale per row when `quantize`), vocabulary and postings, and the documents."""
        with self._lock:
            state = self._state
            if len(state.segments) > 1 or (state.segments and not state.live[state.segments[0].serial].all()):
                state = self._merge(state, list(state.segments))
                self._state = state
            vocabulary = self._vocabulary.to_bytes()
        segment = state.segments[0] if state.segments else None
        chunks = segment.chunks if segment else []
        order = sorted(state.documents, key=lambda d: state.documents[d].start)
        meta = {
            "format": SNAPSHOT_FORMAT, "dimension": self.dimension, "terms_version": TERMS_VERSION,
            "corpus_version": self.version, "label": self.label,
            "documents": [[d, state.documents[d].version, state.documents[d].file_name,
                           state.documents[d].start, state.documents[d].stop] for d in order],
        }
        arrays: dict[str, np.ndarray] = {"meta": _bytes_array(json.dumps(meta).encode()),
                                         "vocabulary": _bytes_array(vocabulary)}
        vectors = segment.vectors if segment else np.zeros((0, self.dimension), np.float32)
        if quantize and vectors.size:
            scale = np.abs(vectors).max(axis=1) / 127
            scale[scale == 0] = 1.0
            arrays["vectors_int8"] = np.round(vectors / scale[:, None]).astype(np.int8)
            arrays["vector_scale"] = scale.astype(np.float32)
        else:
            arrays["vectors"] = vectors
        for name in ("chunk_id", "document_id", "text", "heading"):
            arrays.update(_pack_strings(name, [getattr(c, name) for c in chunks]))
        for name in ("index", "page", "page_end", "token_count"):
            arrays[name] = np.array([-1 if getattr(c, name) is None else getattr(c, name) for c in chunks],
                                    dtype=np.int32)
        if segment:
            arrays.update(segment.postings.arrays("postings_"))
        out = io.BytesIO()
        savez: Any = np.savez  # numpy's stub reads **arrays as its keyword options
        savez(out, **arrays)
        return out.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, *, parameters: BM25Parameters | None = None,
                   terms: Callable[[str], list[str]] = keyword_terms) -> CorpusIndex:
        """Inverse of to_bytes. ValueError for a file of another format or term function
        (the caller rebuilds from its store)."""
        try:
            arrays = dict(np.load(io.BytesIO(data), allow_pickle=False))
            meta = json.loads(arrays["meta"].tobytes())
        except Exception as exc:
            raise ValueError(f"not a corpus snapshot ({type(exc).__name__})") from None
        if meta.get("format") != SNAPSHOT_FORMAT or meta.get("terms_version") != TERMS_VERSION:
            raise ValueError(f"snapshot format {meta.get('format')} / terms {meta.get('terms_version')} is stale")
        index = cls(int(meta["dimension"]), parameters=parameters, terms=terms)
        index._vocabulary = Vocabulary.from_bytes(arrays["vocabulary"].tobytes())
        index.version = meta["corpus_version"]
        index.label = meta.get("label")
        if not meta["documents"]:
            return index
        if "vectors" in arrays:
            vectors = arrays["vectors"]
        else:
            vectors = arrays["vectors_int8"].astype(np.float32) * arrays["vector_scale"][:, None]
        columns = {name: _unpack_strings(name, arrays) for name in ("chunk_id", "document_id", "text", "heading")}
        numbers = {name: arrays[name].tolist() for name in ("index", "page", "page_end", "token_count")}
        chunks = [
            Chunk(chunk_id=cid, document_id=did, index=idx, text=text, page=None if page < 0 else page,
                  page_end=None if end < 0 else end, heading=heading, token_count=tokens)
            for cid, did, text, heading, idx, page, end, tokens in zip(
                columns["chunk_id"], columns["document_id"], columns["text"], columns["heading"],
                numbers["index"], numbers["page"], numbers["page_end"], numbers["token_count"], strict=True)
        ]
        file_names: list[str] = [""] * len(chunks)
        segment = _Segment(chunks, file_names, np.ascontiguousarray(vectors, dtype=np.float32),
                           Postings.from_arrays(arrays, "postings_"),
                           [stop - start for _, _, _, start, stop in meta["documents"]])
        documents = {}
        for document_id, version, file_name, start, stop in meta["documents"]:
            file_names[start:stop] = [file_name] * (stop - start)
            documents[document_id] = _Placement(version, file_name, segment.serial, start, stop)
        index._state = _State((segment,), {segment.serial: np.ones(len(chunks), dtype=bool)}, documents)
        return index


def _bytes_array(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype=np.uint8)


def _pack_strings(name: str, values: list[str | None]) -> dict[str, np.ndarray]:
    """Strings as one UTF-8 blob, their end offsets (in characters) and a None mask."""
    text = "".join(v or "" for v in values)
    ends = np.cumsum([len(v or "") for v in values], dtype=np.int64) if values else np.zeros(0, np.int64)
    return {f"{name}_blob": _bytes_array(text.encode("utf-8")), f"{name}_ends": ends,
            f"{name}_none": np.array([v is None for v in values], dtype=bool)}


def _unpack_strings(name: str, arrays: dict[str, np.ndarray]) -> list[str | None]:
    text = arrays[f"{name}_blob"].tobytes().decode("utf-8")
    ends = arrays[f"{name}_ends"].tolist()
    starts = [0, *ends[:-1]]
    none = arrays[f"{name}_none"].tolist()
    return [None if n else text[s:e] for s, e, n in zip(starts, ends, none, strict=True)]
