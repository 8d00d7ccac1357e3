"""The vector store seam. tests/store_contract.py is the suite every backend passes."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:  # the documents Lambda imports this module without numpy
    import numpy as np

from ..models import Chunk, Document, SearchHit


@runtime_checkable
class VectorStore(Protocol):
    def bind_model(self, name: str, dimension: int, *, claim: bool = True) -> None:
        """Record the embedding model on first use; raise ModelMismatchError if it differs.

        claim=False only checks: readers (the query Lambda has no write access) never record
        a model, so an empty store stays free for whichever model indexes it first."""
        ...

    def get_document(self, document_id: str) -> Document | None: ...

    def list_documents(
        self, limit: int = 10, cursor: str | None = None
    ) -> tuple[list[Document], str | None]:
        """Newest first, stable across pages; returns (page, next cursor or None)."""
        ...

    def upsert_document(self, document: Document) -> None:
        """Write the document record alone (status changes: processing, failed)."""
        ...

    def replace_chunks(
        self, document: Document, chunks: Sequence[Chunk], vectors: np.ndarray
    ) -> None:
        """Atomically make `chunks` the document's only chunks and write `document`.

        Readers see either the old version or the new one, never a mix or a partial set.
        """
        ...

    def replace_documents(self, batch: Sequence[tuple[Document, Sequence[Chunk], np.ndarray]]) -> None:
        """replace_chunks for many documents at once (batch ingestion): each document is
        replaced atomically, and the store may commit them together."""
        ...

    def delete_document(self, document_id: str) -> bool:
        """Remove the document and its chunks; False when it did not exist."""
        ...

    def get_chunks(self, document_id: str) -> list[Chunk]: ...

    def search(self, query_vector: np.ndarray, top_k: int) -> list[SearchHit]:
        """Top-k chunks by cosine similarity (score in [-1, 1], higher is closer)."""
        ...

    def keyword_search(self, query: str, top_k: int) -> list[SearchHit]:
        """Top-k chunks by BM25 over chunk text (score: higher is better)."""
        ...

    def hybrid_candidates(
        self, query_vector: np.ndarray, query: str, top_k: int
    ) -> tuple[list[SearchHit], list[SearchHit]]:
        """(search, keyword_search) from one view of the corpus: one freshness check."""
        ...

    def count_chunks(self) -> int: ...

    def lock_document(self, document_id: str, owner: str, ttl_seconds: int) -> bool:
        """Take the document's ingestion lease; False while another owner holds a live one.

        Two workers indexing one document at once (S3 delivers events at least once)
        would otherwise sweep each other's chunks.
        """
        ...

    def unlock_document(self, document_id: str, owner: str) -> None:
        """Release the lease if `owner` still holds it."""
        ...

    def reconnect(self) -> None:
        """Drop connections and clients; new ones are made on next use (after a SnapStart restore)."""
        ...

    def close(self) -> None: ...


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def encode_cursor(*values: str) -> str:
    raw = json.dumps(list(values), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, arity: int) -> list[str]:
    """Inverse of encode_cursor; ValueError on anything a client made up."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except Exception:
        raise ValueError("invalid cursor") from None
    # Every value we encode is a non-empty printable string; an empty one (DynamoDB refuses
    # empty key values) or a lone surrogate (not encodable) can only be made up.
    if not isinstance(values, list) or len(values) != arity or not all(
            isinstance(v, str) and v and v.isprintable() for v in values):
        raise ValueError("invalid cursor")
    return values
