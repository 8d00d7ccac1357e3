"""The vector store seam. tests/store_contract.py is the suite every backend passes."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
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

    def upsert_document(self, document: Document, *, lease_owner: str | None = None) -> None:
        """Write the document record alone (status changes: processing, failed).

        With `lease_owner`, only while that owner holds the document's lease; LeaseLostError
        otherwise (the document was deleted meanwhile)."""
        ...

    def replace_chunks(
        self, document: Document, chunks: Sequence[Chunk], vectors: np.ndarray,
        *, lease_owner: str | None = None,
    ) -> None:
        """Atomically make `chunks` the document's only chunks and write `document`.

        Readers see either the old version or the new one, never a mix or a partial set.
        With `lease_owner`, the commit happens only while that owner still holds the lease:
        a delete in between ends the lease, so the delete wins (LeaseLostError, nothing
        written).
        """
        ...

    def replace_documents(
        self, batch: Sequence[tuple[Document, Sequence[Chunk], np.ndarray]],
        *, lease_owners: Mapping[str, str] | None = None,
    ) -> list[str]:
        """replace_chunks for many documents at once (batch ingestion): each document is
        replaced atomically, and the store may commit them together.

        With `lease_owners` (document id -> owner), a document whose owner no longer holds
        its lease is skipped (nothing of it written: the delete wins) while the others
        commit; returns the skipped ids."""
        ...

    def delete_document(self, document_id: str) -> bool:
        """Remove the document and its chunks, and end any ingestion lease on it so that an
        index in flight cannot bring it back. False when there was neither a document nor a
        live lease."""
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
        would otherwise sweep each other's chunks. A lease is live until it expires, or
        until its owner (a new_lease_owner() token) is seen to be a process of this machine
        that no longer runs — a killed worker does not block its document for the TTL, even
        when its PID now belongs to another process.
        """
        ...

    def unlock_document(self, document_id: str, owner: str) -> None:
        """Release the lease if `owner` still holds it."""
        ...

    def reconnect(self) -> None:
        """Drop connections and clients; new ones are made on next use (after a SnapStart restore)."""
        ...

    def close(self) -> None: ...


def replace_one(
    store: VectorStore, document: Document, chunks: Sequence[Chunk], vectors: np.ndarray, lease_owner: str | None
) -> None:
    """replace_chunks as a batch of one: stores implement replace_documents and delegate."""
    from ..errors import LeaseLostError

    owners = None if lease_owner is None else {document.document_id: lease_owner}
    if store.replace_documents([(document, chunks, vectors)], lease_owners=owners):
        raise LeaseLostError()


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


# --- lease owners --------------------------------------------------------------------------
#
# A lease owner token names the process that holds a lease, so that another process on the
# same machine can tell a dead holder from a live one without waiting for the TTL:
# "lease1|host|boot id|pid|process start time|random". A PID alone is not enough: PIDs are
# reused (a server restarted in a container is PID 1 again), but the pair (PID, start time
# since boot) names one process for the life of the machine, and the boot id the boot.

_LEASE_PREFIX = "lease1"


def new_lease_owner() -> str:
    import os
    import socket
    import uuid

    pid = os.getpid()
    return "|".join([_LEASE_PREFIX, socket.gethostname(), _boot_id(), str(pid), _process_start(pid) or "",
                     uuid.uuid4().hex])


def lease_owner_gone(owner: str) -> bool | None:
    """True: the owner is a process of this machine (same host, same boot) that has ended,
    or whose PID now belongs to a process started at another time. False: it runs, or it
    lives on another machine (its lease then ends by expiry). None: not a new_lease_owner()
    token (the store decides by its own means)."""
    import os
    import socket

    parts = owner.split("|")
    if len(parts) != 6 or parts[0] != _LEASE_PREFIX or not parts[3].isdigit():
        return None
    _, host, boot, pid_text, started, _ = parts
    if host != socket.gethostname() or boot != _boot_id():
        return False
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # it exists, under another user
    current = _process_start(pid)
    return bool(started and current and current != started)


def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return ""


def _process_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: count from its end.
    fields = stat[stat.rindex(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else None
