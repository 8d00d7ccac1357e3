"""The embedded store: one SQLite file (through apsw) holding documents, chunks, their
vectors and their keyword terms; queries run on the in-memory corpus index
(store/corpus_index.py) built from it.

Why apsw: it bundles a current SQLite and can load extensions (sqlite-vec, which earlier
schemas used and a migration still reads). Why one file: a document's chunks, vectors and
terms are written in one transaction, so a query never sees half a document, and a crash
mid-ingestion rolls back to the previous version.

Why not sqlite-vec and FTS5 for queries: at 100k chunks they took 99 ms and 140/208 ms
(p50/p95), a numpy scan of the same vectors 16 ms, and FTS5's bm25() cannot change k1 and
b (docs/BENCHMARKS.md). Every write appends the document to `changes`; a reader polls its
highest sequence number (one indexed read per query) and reloads only the documents
changed since, so an ingestion by another process (`rag ingest` beside `rag serve`) shows
up in the next query. A process that had to read many rows writes a snapshot of the
index beside the database (`<db>.corpus.npz`), which the next process loads instead.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import LeaseLostError, ModelMismatchError
from ..models import Chunk, Document, DocumentStatus, SearchHit
from ..text.bm25 import BM25Parameters
from ..text.keywords import TERMS_VERSION, keyword_terms
from .base import decode_cursor, encode_cursor, lease_owner_gone, replace_one
from .corpus_index import CorpusIndex, DocumentRows

log = logging.getLogger("rag_assistant.store.sqlite")

#: 2: the keyword index holds normalised terms (text/keywords.py), not raw text.
#: 3: vectors and terms are columns of `chunks`; queries run in memory; `changes` log.
SCHEMA_VERSION = "3"
#: A reader that loaded at least this many rows from SQL saves a snapshot for the next one.
SNAPSHOT_AFTER_ROWS = 2000

_DOCUMENT_COLUMNS = (
    "document_id, file_name, source, content_hash, status, chunk_count, size_bytes, "
    "media_type, page_count, embedding_model, error, created_at, updated_at"
)
_CHUNK_COLUMNS = "chunk_id, document_id, idx, text, page, page_end, heading, token_count"


class SqliteVectorStore:
    def __init__(self, path: Path | str, *, bm25: BM25Parameters | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.snapshot_path = self.path.with_name(self.path.name + ".corpus.npz")
        # apsw refuses concurrent use of one connection from two threads, and a reader on
        # its own connection sees only committed transactions: one connection per thread.
        self._local = threading.local()
        self._connections: list[Any] = []
        self._lock = threading.RLock()
        self._refresh_lock = threading.Lock()
        self._bm25 = bm25
        self._corpus: CorpusIndex | None = None
        self._create_schema()
        self._model: tuple[str, int] | None = self._recorded_model()
        self._store_id = self._meta("store_id")

    @property
    def _db(self) -> Any:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            import apsw

            connection = apsw.Connection(str(self.path))
            connection.set_busy_timeout(10_000)
            # One statement per call, each read to the end: apsw runs a statement that returns
            # rows only as far as it is read, so a second PRAGMA after journal_mode's row never
            # ran (commits were synchronous=FULL: an fsync each, ~5 ms).
            list(connection.execute("PRAGMA journal_mode=WAL"))
            list(connection.execute("PRAGMA synchronous=NORMAL"))
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return connection

    def _create_schema(self) -> None:
        with self._lock, self._db:
            self._db.execute(
                """
                CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS documents (
                    document_id TEXT PRIMARY KEY,
                    file_name TEXT NOT NULL,
                    source TEXT NOT NULL,
                    content_hash TEXT NOT NULL,
                    status TEXT NOT NULL,
                    chunk_count INTEGER NOT NULL DEFAULT 0,
                    size_bytes INTEGER NOT NULL DEFAULT 0,
                    media_type TEXT NOT NULL DEFAULT '',
                    page_count INTEGER,
                    embedding_model TEXT NOT NULL DEFAULT '',
                    error TEXT,
                    created_at TEXT NOT NULL,
                    updated_at TEXT NOT NULL
                );
                CREATE INDEX IF NOT EXISTS documents_by_created
                    ON documents (created_at DESC, document_id DESC);
                CREATE TABLE IF NOT EXISTS chunks (
                    rowid INTEGER PRIMARY KEY,
                    chunk_id TEXT NOT NULL UNIQUE,
                    document_id TEXT NOT NULL REFERENCES documents(document_id) ON DELETE CASCADE,
                    idx INTEGER NOT NULL,
                    text TEXT NOT NULL,
                    page INTEGER,
                    page_end INTEGER,
                    heading TEXT,
                    token_count INTEGER NOT NULL DEFAULT 0
                );
                CREATE INDEX IF NOT EXISTS chunks_by_document ON chunks (document_id, idx);
                CREATE TABLE IF NOT EXISTS leases (
                    document_id TEXT PRIMARY KEY, owner TEXT NOT NULL, host TEXT NOT NULL,
                    pid INTEGER NOT NULL, expires_at REAL NOT NULL
                );
                CREATE TABLE IF NOT EXISTS changes (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT, document_id TEXT NOT NULL
                );
                """
            )
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(chunks)")}
            if "vector" not in columns:
                self._db.execute("ALTER TABLE chunks ADD COLUMN vector BLOB")
                self._db.execute("ALTER TABLE chunks ADD COLUMN terms TEXT NOT NULL DEFAULT ''")
            tables = {row[0] for row in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "vec_chunks" in tables:
                self._migrate_vectors_from_sqlite_vec()
            if "chunks_fts" in tables:
                self._db.execute("DROP TABLE chunks_fts")
            if self._meta("terms_version") != TERMS_VERSION:
                self._rederive_terms()
            if self._meta("store_id") is None:
                self._set_meta("store_id", uuid.uuid4().hex)
            self._set_meta("schema_version", SCHEMA_VERSION)
            self._set_meta("terms_version", TERMS_VERSION)

    def _migrate_vectors_from_sqlite_vec(self) -> None:
        """Schema 2 kept vectors in a sqlite-vec table: copy them into chunks.vector."""
        import sqlite_vec

        self._db.enable_load_extension(True)
        self._db.load_extension(sqlite_vec.loadable_path())
        self._db.enable_load_extension(False)
        self._db.execute("UPDATE chunks SET vector = (SELECT embedding FROM vec_chunks v WHERE v.rowid = chunks.rowid)")
        self._db.execute("DROP TABLE vec_chunks")
        self._log_change_of_every_document()

    def _rederive_terms(self) -> None:
        """The term function changed (or the schema had none): recompute every chunk's terms."""
        rows = list(self._db.execute("SELECT rowid, text, heading FROM chunks"))
        for rowid, text, heading in rows:
            terms = keyword_terms(f"{heading}\n{text}" if heading else text)
            self._db.execute("UPDATE chunks SET terms = ? WHERE rowid = ?", (" ".join(terms), rowid))
        if rows:
            self._log_change_of_every_document()

    def _log_change_of_every_document(self) -> None:
        self._db.execute("INSERT INTO changes (document_id) SELECT DISTINCT document_id FROM chunks")

    def _meta(self, key: str) -> str | None:
        rows = list(self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)))
        return rows[0][0] if rows else None

    def _set_meta(self, key: str, value: str) -> None:
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def _recorded_model(self) -> tuple[str, int] | None:
        rows = dict(self._db.execute("SELECT key, value FROM meta WHERE key IN ('model', 'dimension')"))
        if "model" in rows:
            return rows["model"], int(rows["dimension"])
        return None

    def bind_model(self, name: str, dimension: int, *, claim: bool = True) -> None:
        with self._lock:
            if self._model is None and not claim:
                return
            if self._model is None:
                with self._db:
                    self._db.execute(
                        "INSERT INTO meta (key, value) VALUES ('model', ?), ('dimension', ?)",
                        (name, str(dimension)),
                    )
                self._model = (name, dimension)
            elif self._model != (name, dimension):
                raise ModelMismatchError(
                    f"the index in RAG_DATA_DIR was built with embedding model {self._model[0]} "
                    f"({self._model[1]} dimensions), not {name} ({dimension}); set "
                    f"EMBEDDING_MODEL_NAME={self._model[0]} or point RAG_DATA_DIR at a new folder"
                )

    # --- documents -----------------------------------------------------------------------

    def get_document(self, document_id: str) -> Document | None:
        rows = list(
            self._db.execute(
                f"SELECT {_DOCUMENT_COLUMNS} FROM documents WHERE document_id = ?", (document_id,)
            )
        )
        return _document(rows[0]) if rows else None

    def list_documents(
        self, limit: int = 10, cursor: str | None = None
    ) -> tuple[list[Document], str | None]:
        limit = max(1, int(limit))
        params: tuple[Any, ...]
        where = ""
        if cursor:
            created_at, document_id = decode_cursor(cursor, 2)
            where = "WHERE created_at < ? OR (created_at = ? AND document_id < ?)"
            params = (created_at, created_at, document_id, limit + 1)
        else:
            params = (limit + 1,)
        rows = list(
            self._db.execute(
                f"SELECT {_DOCUMENT_COLUMNS} FROM documents {where} "
                "ORDER BY created_at DESC, document_id DESC LIMIT ?",
                params,
            )
        )
        documents = [_document(r) for r in rows[:limit]]
        next_cursor = None
        if len(rows) > limit:
            last = documents[-1]
            next_cursor = encode_cursor(last.created_at, last.document_id)
        return documents, next_cursor

    def upsert_document(self, document: Document, *, lease_owner: str | None = None) -> None:
        with self._lock, self._db:
            if not self._holds_lease(document.document_id, lease_owner):
                raise LeaseLostError()
            self._write_document(document)

    def _holds_lease(self, document_id: str, owner: str | None) -> bool:
        # Inside the writing transaction: a delete either committed before (the lease is
        # gone) or waits for this one to end (and then removes what it wrote).
        if owner is None:
            return True
        rows = list(self._db.execute("SELECT owner FROM leases WHERE document_id = ?", (document_id,)))
        return bool(rows) and rows[0][0] == owner

    def _write_document(self, d: Document) -> None:
        self._db.execute(
            f"INSERT INTO documents ({_DOCUMENT_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT(document_id) DO UPDATE SET file_name=excluded.file_name, "
            "source=excluded.source, content_hash=excluded.content_hash, status=excluded.status, "
            "chunk_count=excluded.chunk_count, size_bytes=excluded.size_bytes, "
            "media_type=excluded.media_type, page_count=excluded.page_count, "
            "embedding_model=excluded.embedding_model, error=excluded.error, "
            "updated_at=excluded.updated_at",
            (
                d.document_id, d.file_name, d.source, d.content_hash, str(d.status), d.chunk_count,
                d.size_bytes, d.media_type, d.page_count, d.embedding_model, d.error,
                d.created_at, d.updated_at,
            ),
        )

    def replace_chunks(
        self, document: Document, chunks: Sequence[Chunk], vectors: np.ndarray,
        *, lease_owner: str | None = None,
    ) -> None:
        replace_one(self, document, chunks, vectors, lease_owner)

    def replace_documents(
        self, batch: Sequence[tuple[Document, Sequence[Chunk], np.ndarray]],
        *, lease_owners: Mapping[str, str] | None = None,
    ) -> list[str]:
        """replace_chunks for many documents in one transaction (batch ingestion); a
        document whose lease was lost is skipped and its id returned."""
        if self._model is None:
            raise RuntimeError("bind_model() must be called before chunks are written")
        prepared = []
        for document, chunks, vectors in batch:
            vectors = np.ascontiguousarray(vectors, dtype=np.float32)
            if len(chunks) != len(vectors) or (len(chunks) and vectors.shape[1] != self._model[1]):
                raise ValueError(f"expected one {self._model[1]}-dimensional vector per chunk")
            # Terms are computed here, outside the write lock: stemming is the slow part.
            terms = [" ".join(keyword_terms(c.embedding_text())) for c in chunks]
            prepared.append((document, chunks, vectors, terms))
        lost = []
        with self._lock, self._db:
            for document, chunks, vectors, terms in prepared:
                if lease_owners and not self._holds_lease(document.document_id, lease_owners.get(document.document_id)):
                    lost.append(document.document_id)
                    continue
                self._delete_chunks(document.document_id)
                self._write_document(document)
                self._db.executemany(
                    f"INSERT INTO chunks ({_CHUNK_COLUMNS}, vector, terms) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    [
                        (c.chunk_id, c.document_id, c.index, c.text, c.page, c.page_end, c.heading,
                         c.token_count, vector.tobytes(), t)
                        for c, vector, t in zip(chunks, vectors, terms, strict=True)
                    ],
                )
                self._db.execute("INSERT INTO changes (document_id) VALUES (?)", (document.document_id,))
        return lost

    def _delete_chunks(self, document_id: str) -> None:
        self._db.execute("DELETE FROM chunks WHERE document_id = ?", (document_id,))

    def delete_document(self, document_id: str) -> bool:
        with self._lock, self._db:
            # Ending the lease fences off an index in flight: its commit finds no lease.
            leased = list(self._db.execute(
                "SELECT 1 FROM leases WHERE document_id = ? AND expires_at >= ?", (document_id, time.time())))
            self._db.execute("DELETE FROM leases WHERE document_id = ?", (document_id,))
            self._delete_chunks(document_id)
            self._db.execute("DELETE FROM documents WHERE document_id = ?", (document_id,))
            existed = self._db.changes() > 0
            self._db.execute("INSERT INTO changes (document_id) VALUES (?)", (document_id,))
            return existed or bool(leased)

    def get_chunks(self, document_id: str) -> list[Chunk]:
        return [
            _chunk(r)
            for r in self._db.execute(
                f"SELECT {_CHUNK_COLUMNS} FROM chunks WHERE document_id = ? ORDER BY idx",
                (document_id,),
            )
        ]

    def count_chunks(self) -> int:
        return int(next(iter(self._db.execute("SELECT count(*) FROM chunks")))[0])

    def lock_document(self, document_id: str, owner: str, ttl_seconds: int) -> bool:
        now = time.time()
        with self._lock, self._db:
            rows = list(self._db.execute(
                "SELECT owner, host, pid, expires_at FROM leases WHERE document_id = ?", (document_id,)))
            if rows:
                held_by, host, pid, expires_at = rows[0]
                # A lease outlives a process killed mid-ingestion (Ctrl-C): on this machine,
                # a dead holder's lease is free at once instead of after its TTL.
                if held_by != owner and expires_at >= now and not _gone(held_by, host, pid):
                    return False
            self._db.execute(
                "INSERT OR REPLACE INTO leases (document_id, owner, host, pid, expires_at) VALUES (?, ?, ?, ?, ?)",
                (document_id, owner, socket.gethostname(), os.getpid(), now + ttl_seconds),
            )
            return True

    def unlock_document(self, document_id: str, owner: str) -> None:
        with self._lock, self._db:
            self._db.execute("DELETE FROM leases WHERE document_id = ? AND owner = ?", (document_id, owner))

    # --- retrieval -----------------------------------------------------------------------

    def search(self, query_vector: np.ndarray, top_k: int) -> list[SearchHit]:
        corpus = self._current_corpus()
        return corpus.search(query_vector, top_k) if corpus else []

    def keyword_search(self, query: str, top_k: int) -> list[SearchHit]:
        corpus = self._current_corpus()
        return corpus.keyword_search(query, top_k) if corpus else []

    def hybrid_candidates(
        self, query_vector: np.ndarray, query: str, top_k: int
    ) -> tuple[list[SearchHit], list[SearchHit]]:
        corpus = self._current_corpus()
        if corpus is None:
            return [], []
        return corpus.search(query_vector, top_k), corpus.keyword_search(query, top_k)

    # --- the in-memory corpus ------------------------------------------------------------

    def _change_counter(self) -> int:
        rows = list(self._db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'changes'"))
        return int(rows[0][0]) if rows else 0

    def _current_corpus(self) -> CorpusIndex | None:
        """The corpus as of the last committed change: one small read when nothing changed."""
        if self._model is None:
            self._model = self._recorded_model()
            if self._model is None:
                return None
        corpus = self._corpus
        if corpus is not None and corpus.version == self._change_counter():
            return corpus
        with self._refresh_lock:
            return self._refresh()

    def _refresh(self) -> CorpusIndex:
        assert self._model is not None  # _current_corpus checked it
        corpus = self._corpus or self._load_snapshot() or CorpusIndex(self._model[1], parameters=self._bm25)
        loaded = 0
        with self._db:  # one read transaction: the counter and the rows agree
            version = self._change_counter()
            if corpus.version == version:
                self._corpus = corpus
                return corpus
            if corpus.version is None:
                changed = None  # everything
            else:
                changed = [r[0] for r in self._db.execute(
                    "SELECT DISTINCT document_id FROM changes WHERE seq > ?", (corpus.version,))]
            rows = self._document_rows(changed)
        loaded = sum(len(d.chunks) for d in rows)
        gone = set(changed) - {d.document_id for d in rows} if changed is not None else set()
        corpus.update(rows, gone, version=version)
        self._corpus = corpus
        if loaded >= SNAPSHOT_AFTER_ROWS:
            self._save_snapshot(corpus)
        log.debug("corpus refreshed", extra={"corpus_version": version, "rows_read": loaded})
        return corpus

    def _document_rows(self, document_ids: list[str] | None) -> list[DocumentRows]:
        query = (f"SELECT {_prefixed('c', _CHUNK_COLUMNS)}, d.file_name, c.vector, c.terms "
                 "FROM chunks c JOIN documents d ON d.document_id = c.document_id")
        if document_ids is None:
            cursor = self._db.execute(query + " ORDER BY c.document_id, c.idx")
        else:
            if not document_ids:
                return []
            self._db.execute("CREATE TEMP TABLE IF NOT EXISTS wanted (document_id TEXT PRIMARY KEY)")
            self._db.execute("DELETE FROM temp.wanted")
            self._db.executemany("INSERT OR IGNORE INTO temp.wanted VALUES (?)", [(d,) for d in document_ids])
            cursor = self._db.execute(
                query + " WHERE c.document_id IN (SELECT document_id FROM temp.wanted) ORDER BY c.document_id, c.idx")
        documents: list[DocumentRows] = []
        current: str | None = None
        chunks: list[Chunk] = []
        vectors: list[bytes] = []
        terms: list[list[str]] = []
        file_name = ""

        def flush() -> None:
            if current is not None:
                matrix = np.frombuffer(b"".join(vectors), dtype=np.float32).reshape(len(chunks), -1)
                documents.append(DocumentRows(current, "", file_name, chunks, matrix, terms))

        for row in cursor:
            if row[1] != current:
                flush()
                current, file_name, chunks, vectors, terms = row[1], row[8], [], [], []
            chunks.append(_chunk(row[:8]))
            vectors.append(row[9])
            terms.append(row[10].split())
        flush()
        return documents

    def _load_snapshot(self) -> CorpusIndex | None:
        try:
            data = self.snapshot_path.read_bytes()
        except OSError:
            return None
        try:
            corpus = CorpusIndex.from_bytes(data, parameters=self._bm25)
        except ValueError as exc:
            log.info("ignoring the corpus snapshot: %s", exc)
            return None
        # A snapshot of another database (deleted and made anew), or of a later state, is useless.
        assert self._model is not None
        if (corpus.label != self._store_id or corpus.dimension != self._model[1]
                or (corpus.version or 0) > self._change_counter()):
            return None
        return corpus

    def _save_snapshot(self, corpus: CorpusIndex) -> None:
        corpus.label = self._store_id
        scratch = self.snapshot_path.with_name(f"{self.snapshot_path.name}.{os.getpid()}.tmp")
        try:
            scratch.write_bytes(corpus.to_bytes())
            os.replace(scratch, self.snapshot_path)
        except OSError as exc:  # a read-only data folder still serves queries
            log.info("could not save the corpus snapshot: %s", exc)
            scratch.unlink(missing_ok=True)

    def reconnect(self) -> None:
        """Connections reopen on next use."""
        self.close()

    def close(self) -> None:
        with self._lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
        self._local = threading.local()


def _gone(owner: str, host: str, pid: int) -> bool:
    gone = lease_owner_gone(owner)
    return (not _alive(host, pid)) if gone is None else gone


def _alive(host: str, pid: int) -> bool:
    if host != socket.gethostname():
        return True  # another machine's process: trust the expiry
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _prefixed(alias: str, columns: str) -> str:
    return ", ".join(f"{alias}.{c.strip()}" for c in columns.split(","))


def _document(row: Sequence[Any]) -> Document:
    return Document(
        document_id=row[0], file_name=row[1], source=row[2], content_hash=row[3],
        status=DocumentStatus(row[4]), chunk_count=row[5], size_bytes=row[6], media_type=row[7],
        page_count=row[8], embedding_model=row[9], error=row[10], created_at=row[11],
        updated_at=row[12],
    )


def _chunk(row: Sequence[Any]) -> Chunk:
    return Chunk(
        chunk_id=row[0], document_id=row[1], index=row[2], text=row[3], page=row[4],
        page_end=row[5], heading=row[6], token_count=row[7],
    )
