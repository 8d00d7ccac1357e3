"""The embedded store: one SQLite file (through apsw) with sqlite-vec for vectors and FTS5
for keywords.

Why apsw: it bundles a current SQLite with FTS5 and can load extensions, which Python's
own sqlite3 module cannot on many builds. Why one file: a document's chunks, vectors and
keyword entries are written in one transaction, so a query never sees half a document,
and a crash mid-ingestion rolls back to the previous version.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import LeaseLostError, ModelMismatchError
from ..models import Chunk, Document, DocumentStatus, SearchHit
from ..text.keywords import keyword_terms, keyword_text
from .base import decode_cursor, encode_cursor, lease_owner_gone

#: 2: the keyword index holds normalised terms (text/keywords.py), not raw text.
SCHEMA_VERSION = "2"

_DOCUMENT_COLUMNS = (
    "document_id, file_name, source, content_hash, status, chunk_count, size_bytes, "
    "media_type, page_count, embedding_model, error, created_at, updated_at"
)
_CHUNK_COLUMNS = "chunk_id, document_id, idx, text, page, page_end, heading, token_count"


class SqliteVectorStore:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # apsw refuses concurrent use of one connection from two threads, and a reader on
        # its own connection sees only committed transactions: one connection per thread.
        self._local = threading.local()
        self._connections: list[Any] = []
        self._lock = threading.RLock()
        self._create_schema()
        self._model: tuple[str, int] | None = self._recorded_model()

    @property
    def _db(self) -> Any:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            import apsw
            import sqlite_vec

            connection = apsw.Connection(str(self.path))
            connection.set_busy_timeout(10_000)
            connection.enable_load_extension(True)
            connection.load_extension(sqlite_vec.loadable_path())
            connection.enable_load_extension(False)
            connection.execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL")
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return connection

    def _create_schema(self) -> None:
        with self._db:
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
                """
            )
            rows = list(self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'"))
            if rows and rows[0][0] != SCHEMA_VERSION:
                self._db.execute("DROP TABLE IF EXISTS chunks_fts")
            self._db.execute(
                # Contentless: the terms are derived from chunks.text; contentless_delete lets
                # a plain DELETE remove a row's terms.
                "CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5("
                "keywords, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 0')"
            )
            if rows and rows[0][0] != SCHEMA_VERSION:
                for rowid, text, heading in list(self._db.execute("SELECT rowid, text, heading FROM chunks")):
                    self._db.execute(
                        "INSERT INTO chunks_fts (rowid, keywords) VALUES (?, ?)",
                        (rowid, keyword_text(f"{heading}\n{text}" if heading else text)),
                    )
            self._db.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (SCHEMA_VERSION,),
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
                    self._db.execute(
                        f"CREATE VIRTUAL TABLE IF NOT EXISTS vec_chunks USING vec0("
                        f"embedding float[{int(dimension)}] distance_metric=cosine)"
                    )
                self._model = (name, dimension)
            elif self._model != (name, dimension):
                raise ModelMismatchError(
                    f"the index at {self.path} was built with embedding model {self._model[0]} "
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
            self._check_lease(document.document_id, lease_owner)
            self._write_document(document)

    def _check_lease(self, document_id: str, owner: str | None) -> None:
        # Inside the writing transaction: a delete either committed before (the lease is
        # gone) or waits for this one to end (and then removes what it wrote).
        if owner is None:
            return
        rows = list(self._db.execute("SELECT owner FROM leases WHERE document_id = ?", (document_id,)))
        if not rows or rows[0][0] != owner:
            raise LeaseLostError(
                "the document was deleted (or taken over by another upload) while this version was "
                "being indexed; nothing was written"
            )

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
        if self._model is None:
            raise RuntimeError("bind_model() must be called before chunks are written")
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if len(chunks) != len(vectors) or (len(chunks) and vectors.shape[1] != self._model[1]):
            raise ValueError(f"expected one {self._model[1]}-dimensional vector per chunk")
        with self._lock, self._db:
            self._check_lease(document.document_id, lease_owner)
            self._delete_chunks(document.document_id)
            self._write_document(document)
            for chunk, vector in zip(chunks, vectors, strict=True):
                self._db.execute(
                    f"INSERT INTO chunks ({_CHUNK_COLUMNS}) VALUES (?,?,?,?,?,?,?,?)",
                    (
                        chunk.chunk_id, chunk.document_id, chunk.index, chunk.text, chunk.page,
                        chunk.page_end, chunk.heading, chunk.token_count,
                    ),
                )
                rowid = self._db.last_insert_rowid()
                self._db.execute(
                    "INSERT INTO chunks_fts (rowid, keywords) VALUES (?, ?)",
                    (rowid, keyword_text(chunk.embedding_text())),
                )
                self._db.execute(
                    "INSERT INTO vec_chunks (rowid, embedding) VALUES (?, ?)", (rowid, vector.tobytes())
                )

    def _delete_chunks(self, document_id: str) -> None:
        rows = list(self._db.execute("SELECT rowid FROM chunks WHERE document_id = ?", (document_id,)))
        for (rowid,) in rows:
            self._db.execute("DELETE FROM chunks_fts WHERE rowid = ?", (rowid,))
            if self._model is not None:
                self._db.execute("DELETE FROM vec_chunks WHERE rowid = ?", (rowid,))
        self._db.execute("DELETE FROM chunks WHERE document_id = ?", (document_id,))

    def delete_document(self, document_id: str) -> bool:
        with self._lock, self._db:
            # Ending the lease fences off an index in flight: its commit finds no lease.
            leased = list(self._db.execute(
                "SELECT 1 FROM leases WHERE document_id = ? AND expires_at >= ?", (document_id, time.time())))
            self._db.execute("DELETE FROM leases WHERE document_id = ?", (document_id,))
            self._delete_chunks(document_id)
            self._db.execute("DELETE FROM documents WHERE document_id = ?", (document_id,))
            return self._db.changes() > 0 or bool(leased)

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
        if self._model is None or top_k < 1:
            return []
        vector = np.ascontiguousarray(query_vector, dtype=np.float32).tobytes()
        rows = self._db.execute(
            f"""
            WITH knn AS (
                SELECT rowid, distance FROM vec_chunks WHERE embedding MATCH ? AND k = ?
            )
            SELECT {_prefixed('c', _CHUNK_COLUMNS)}, d.file_name, knn.distance
            FROM knn JOIN chunks c ON c.rowid = knn.rowid
            JOIN documents d ON d.document_id = c.document_id
            ORDER BY knn.distance
            """,
            (vector, int(top_k)),
        )
        return [SearchHit(chunk=_chunk(r[:8]), file_name=r[8], score=1.0 - float(r[9])) for r in rows]

    def keyword_search(self, query: str, top_k: int) -> list[SearchHit]:
        terms = keyword_terms(query)
        if not terms or top_k < 1:
            return []
        match = " OR ".join('"' + t.replace('"', '""') + '"' for t in dict.fromkeys(terms))
        rows = self._db.execute(
            f"""
            SELECT {_prefixed('c', _CHUNK_COLUMNS)}, d.file_name, bm25(chunks_fts) AS rank
            FROM chunks_fts JOIN chunks c ON c.rowid = chunks_fts.rowid
            JOIN documents d ON d.document_id = c.document_id
            WHERE chunks_fts MATCH ? ORDER BY rank LIMIT ?
            """,
            (match, int(top_k)),
        )
        # FTS5's bm25() is negative, lower is better; flip it so higher is better everywhere.
        return [SearchHit(chunk=_chunk(r[:8]), file_name=r[8], score=-float(r[9])) for r in rows]

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
