"""The AWS store: one DynamoDB table (`rag-documents`, PK document_id, SK chunk_id).

Items
  document  SK "#document": status, file name, hash, counts, timestamps, model, and the
            `version` token of its live chunks; carries the sparse GSI keys (`entity`,
            `listed_at`) so `document-id-index` lists documents newest first without a scan.
  chunk     SK chunk_id: text, page, heading, `version`, and the vector as float32 bytes.
  #meta     "#model": the embedding model and dimension (the table refuses another);
            "#manifest": document id -> live version and file name, and `corpus_version`;
            "#counter": a copy of `corpus_version` in a tiny item, the one read per query.

A new version is written beside the old one, becomes live when the document item and the
manifest point at it, and only then are the old chunks deleted: a reader never sees half of
a document. Warm Lambdas keep the live vectors in memory and refresh only what changed, so
a warm query costs one small read (the counter) instead of a scan.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ..errors import LeaseLostError, ModelMismatchError
from ..models import Chunk, Document, DocumentStatus, SearchHit
from ..text.bm25 import BM25Index
from .base import lease_owner_gone
from .dynamodb_catalog import (
    _DOC_FIELDS,
    DOCUMENT_SK,
    GSI_PARTITION,
    GSI_SORT,
    META_PK,
    DynamoDBCatalog,
)

log = logging.getLogger("rag_assistant.store.dynamodb")

_BATCH = 25  # BatchWriteItem's limit
_LEASE_SK = "#lock"


class DynamoDBVectorStore(DynamoDBCatalog):
    def __init__(
        self,
        table_name: str,
        *,
        client: Any = None,
        vector_index_name: str | None = None,
        max_backoff_seconds: float = 5.0,
    ) -> None:
        super().__init__(table_name, client=client)
        self._vector_index = vector_index_name
        self._max_backoff = max_backoff_seconds
        self._model: tuple[str, int] | None = None
        self._lock = threading.RLock()
        self._cache = _CorpusCache()

    # --- model ---------------------------------------------------------------------------

    def bind_model(self, name: str, dimension: int, *, claim: bool = True) -> None:
        if self._model == (name, dimension):
            return
        if not claim:
            recorded = self._get(META_PK, "#model")
            if recorded is None:
                return  # an empty table: nothing to search yet, nothing to claim
            self._check_model(recorded, name, dimension)
            self._model = (name, dimension)
            return
        try:
            self._client.put_item(
                TableName=self.table_name,
                Item=self._item({"document_id": META_PK, "chunk_id": "#model", "model": name, "dimension": dimension}),
                ConditionExpression="attribute_not_exists(document_id)",
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            self._check_model(self._get(META_PK, "#model", consistent=True) or {}, name, dimension)
        self._model = (name, dimension)

    def _check_model(self, recorded: dict[str, Any], name: str, dimension: int) -> None:
        existing = (recorded.get("model"), int(recorded.get("dimension", 0)))
        if existing != (name, dimension):
            raise ModelMismatchError(
                f"table {self.table_name} holds vectors of embedding model {existing[0]} "
                f"({existing[1]} dimensions), not {name} ({dimension}); set "
                f"EMBEDDING_MODEL_NAME={existing[0]} or use another VECTORSTORE_TABLE_NAME"
            )

    # --- documents -----------------------------------------------------------------------

    def upsert_document(self, document: Document, *, lease_owner: str | None = None) -> None:
        """Write the document's fields; its live chunk version (if any) is left alone."""
        if lease_owner is None:
            self._write_document(document, version=None)
        else:
            self._commit_under_lease(document.document_id, lease_owner,
                                     [{"Update": self._document_update(document, None)}])

    def _write_document(self, document: Document, version: str | None) -> None:
        self._client.update_item(**self._document_update(document, version))

    def _document_update(self, document: Document, version: str | None) -> dict[str, Any]:
        values = {f: getattr(document, f) for f in _DOC_FIELDS}
        if version is not None:
            values["version"] = version
        values["status"] = str(document.status)
        # REMOVE rather than SET to NULL: absent attributes stay absent.
        absent = [k for k, v in values.items() if v is None]
        values = {k: v for k, v in values.items() if v is not None}
        values[GSI_PARTITION] = "document"
        values[GSI_SORT] = f"{document.created_at}#{document.document_id}"
        names = {f"#{k}": k for k in [*values, *absent]}
        expression = "SET " + ", ".join(f"#{k} = :{k}" for k in values)
        if absent:
            expression += " REMOVE " + ", ".join(f"#{k}" for k in absent)
        return dict(
            TableName=self.table_name,
            Key=self._key(document.document_id, DOCUMENT_SK),
            UpdateExpression=expression,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={f":{k}": self._ser.serialize(v) for k, v in values.items()},
        )

    def _commit_under_lease(self, document_id: str, owner: str, writes: list[dict[str, Any]]) -> None:
        """`writes` in one transaction with a check that `owner` still holds the lease: a
        delete ends the lease first, so it either sees this commit (and removes it) or this
        commit sees it (LeaseLostError)."""
        check = {"ConditionCheck": {
            "TableName": self.table_name, "Key": self._key(document_id, _LEASE_SK),
            "ConditionExpression": "#o = :owner", "ExpressionAttributeNames": {"#o": "owner"},
            "ExpressionAttributeValues": {":owner": {"S": owner}},
        }}
        try:
            self._client.transact_write_items(TransactItems=[check, *writes])
        except self._client.exceptions.TransactionCanceledException as exc:
            reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            if reasons and reasons[0] == "ConditionalCheckFailed":
                raise LeaseLostError(
                    "the document was deleted (or taken over by another upload) while this version "
                    "was being indexed; nothing was written"
                ) from None
            raise

    def replace_chunks(
        self, document: Document, chunks: Sequence[Chunk], vectors: np.ndarray, *, lease_owner: str | None = None
    ) -> None:
        if self._model is None:
            raise RuntimeError("bind_model() must be called before chunks are written")
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if len(chunks) != len(vectors) or (len(chunks) and vectors.shape[1] != self._model[1]):
            raise ValueError(f"expected one {self._model[1]}-dimensional vector per chunk")
        version = uuid.uuid4().hex[:16]
        with self._lock:
            # 1. the new version, invisible: nothing points at it yet
            self._batch_write(
                [{"PutRequest": {"Item": self._chunk_item(c, v, version)}} for c, v in zip(chunks, vectors, strict=True)]
            )
            # 2. the commit: the document item and the manifest point at it
            live = {"v": version, "f": document.file_name}
            if lease_owner is None:
                self._write_document(document, version=version)
                self._publish(document.document_id, live)
            else:
                self._ensure_manifest()
                try:
                    self._commit_under_lease(document.document_id, lease_owner, [
                        {"Update": self._document_update(document, version)},
                        {"Update": self._manifest_update(document.document_id, live)},
                    ])
                except LeaseLostError:
                    self._delete_version(document.document_id, version)
                    raise
                self._bump_counter()
            # 3. the old version, now unreachable, is removed
            self._delete_chunks(document.document_id, keep_version=version)

    def delete_document(self, document_id: str) -> bool:
        with self._lock:
            # Taking the lease first fences off an index in flight: its commit checks the lease.
            fence = f"deleting|{uuid.uuid4().hex}"
            previous = self._client.put_item(
                TableName=self.table_name,
                Item=self._item({"document_id": document_id, "chunk_id": _LEASE_SK, "owner": fence,
                                 "expires_at": int(time.time()) + 300}),
                ReturnValues="ALL_OLD",
            ).get("Attributes")
            leased = bool(previous) and int(previous["expires_at"]["N"]) >= int(time.time())
            try:
                self._client.delete_item(
                    TableName=self.table_name,
                    Key=self._key(document_id, DOCUMENT_SK),
                    ConditionExpression="attribute_exists(document_id)",
                )
                existed = True
            except self._client.exceptions.ConditionalCheckFailedException:
                existed = False
            self._publish(document_id, None)
            self._delete_chunks(document_id, keep_version=None)
            self.unlock_document(document_id, fence)
        return existed or leased

    def get_chunks(self, document_id: str) -> list[Chunk]:
        for _ in range(5):
            item = self._get(document_id, DOCUMENT_SK, consistent=True)
            if not item or "version" not in item:
                return []
            chunks = [c for c, _ in self._load_chunks(document_id, item["version"])]
            again = self._get(document_id, DOCUMENT_SK, consistent=True)
            # A version switch while we read means the old chunks may be half deleted.
            if again and again.get("version") == item["version"]:
                return chunks
        raise RuntimeError(f"document {document_id} kept changing while it was read")

    def count_chunks(self) -> int:
        self._refresh()
        return len(self._cache.rows)

    def lock_document(self, document_id: str, owner: str, ttl_seconds: int) -> bool:
        now = int(time.time())
        try:
            self._client.put_item(
                TableName=self.table_name,
                Item=self._item({"document_id": document_id, "chunk_id": _LEASE_SK, "owner": owner,
                                 "expires_at": now + ttl_seconds}),
                ConditionExpression="attribute_not_exists(document_id) OR expires_at < :now OR #o = :owner",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={":now": {"N": str(now)}, ":owner": {"S": owner}},
            )
            return True
        except self._client.exceptions.ConditionalCheckFailedException:
            pass
        # Held: free all the same when its holder is a process of this machine that has
        # ended (killed mid-ingestion, its PID perhaps reused since); replace exactly it.
        held = self._get(document_id, _LEASE_SK, consistent=True)
        if not held or held.get("owner") == owner or not lease_owner_gone(str(held.get("owner", ""))):
            return False
        try:
            self._client.put_item(
                TableName=self.table_name,
                Item=self._item({"document_id": document_id, "chunk_id": _LEASE_SK, "owner": owner,
                                 "expires_at": now + ttl_seconds}),
                ConditionExpression="#o = :held",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={":held": {"S": str(held["owner"])}},
            )
            return True
        except self._client.exceptions.ConditionalCheckFailedException:
            return False

    def unlock_document(self, document_id: str, owner: str) -> None:
        try:
            self._client.delete_item(
                TableName=self.table_name,
                Key=self._key(document_id, _LEASE_SK),
                ConditionExpression="#o = :owner",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={":owner": {"S": owner}},
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            pass  # expired and taken over: not ours to release

    # --- retrieval -----------------------------------------------------------------------

    def search(self, query_vector: np.ndarray, top_k: int) -> list[SearchHit]:
        if self._vector_index:
            return self._search_native(query_vector, top_k)
        self._refresh()
        matrix = self._cache.matrix
        if matrix is None or top_k < 1:
            return []
        scores = matrix @ np.asarray(query_vector, dtype=np.float32)
        k = min(top_k, len(scores))
        best = np.argpartition(-scores, k - 1)[:k]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [SearchHit(*self._cache.rows[i], score=float(scores[i])) for i in best]

    def keyword_search(self, query: str, top_k: int) -> list[SearchHit]:
        self._refresh()
        index = self._cache.bm25()
        return [SearchHit(*self._cache.rows[i], score=s) for i, s in index.search(query, top_k)]

    def _search_native(self, query_vector: np.ndarray, top_k: int) -> list[SearchHit]:
        """DynamoDB's vector index (SearchVectors). Results of versions that are no longer
        live (a write in progress, an old version being deleted) are dropped."""
        manifest = self._manifest()
        response = self._client.search_vectors(
            TableName=self.table_name,
            IndexName=self._vector_index,
            SearchVector=[{"N": repr(float(x))} for x in np.asarray(query_vector, dtype=np.float32)],
            TopK=int(top_k) * 2,
            ProjectionExpression="document_id, chunk_id, #t, idx, page, page_end, heading, token_count, #v",
            ExpressionAttributeNames={"#t": "text", "#v": "version"},
            ReturnConsumedCapacity="TOTAL",
        )
        hits = []
        for result in response.get("SearchResults", []):
            item = self._plain(result["Item"])
            live = manifest.get(item["document_id"])
            if not live or live["v"] != item.get("version"):
                continue
            # COSINE scores are distances in [0, 2]: report similarity like the other stores.
            hits.append(SearchHit(_chunk(item), live["f"], 1.0 - float(result["Score"])))
        return hits[:top_k]

    def close(self) -> None:
        pass

    # --- the warm corpus -----------------------------------------------------------------

    def _refresh(self) -> None:
        counter = self._get(META_PK, "#counter", consistent=True)
        version = int(counter["corpus_version"]) if counter else 0
        cache = self._cache
        if cache.corpus_version == version:
            return
        with self._lock:
            if cache.corpus_version == version:
                return
            manifest = self._manifest()
            loaded = {}
            for document_id, live in manifest.items():
                current = cache.documents.get(document_id)
                if current and current[0] == live["v"]:
                    loaded[document_id] = current
                else:
                    pairs = self._load_chunks(document_id, live["v"])
                    if not pairs:
                        continue  # published but not readable yet: picked up next time
                    matrix = np.stack([v for _, v in pairs])
                    loaded[document_id] = (live["v"], live["f"], [c for c, _ in pairs], matrix)
            cache.replace(loaded, version)
            log.debug("corpus refreshed", extra={"corpus_version": version, "documents": len(loaded)})

    def _manifest(self) -> dict[str, dict[str, str]]:
        item = self._get(META_PK, "#manifest", consistent=True) or {}
        return item.get("documents", {})

    def _publish(self, document_id: str, live: dict[str, str] | None) -> None:
        """Point the manifest at a document's live version (None: remove it), then bump the
        counter that warm readers poll. Manifest first: a reader that sees the new counter
        finds the manifest already updated."""
        self._ensure_manifest()
        self._client.update_item(**self._manifest_update(document_id, live))
        self._bump_counter()

    def _manifest_update(self, document_id: str, live: dict[str, str] | None) -> dict[str, Any]:
        names = {"#d": "documents", "#id": document_id, "#c": "corpus_version"}
        values: dict[str, Any] = {":one": {"N": "1"}}
        if live is None:
            expression = "REMOVE #d.#id ADD #c :one"
        else:
            expression = "SET #d.#id = :live ADD #c :one"
            values[":live"] = self._ser.serialize(live)
        return dict(
            TableName=self.table_name, Key=self._key(META_PK, "#manifest"),
            UpdateExpression=expression, ExpressionAttributeNames=names, ExpressionAttributeValues=values,
        )

    def _bump_counter(self) -> None:
        self._client.update_item(
            TableName=self.table_name, Key=self._key(META_PK, "#counter"),
            UpdateExpression="ADD #c :one", ExpressionAttributeNames={"#c": "corpus_version"},
            ExpressionAttributeValues={":one": {"N": "1"}},
        )

    def _ensure_manifest(self) -> None:
        # A nested SET needs the parent map to exist.
        try:
            self._client.put_item(
                TableName=self.table_name,
                Item=self._item({"document_id": META_PK, "chunk_id": "#manifest", "documents": {}, "corpus_version": 0}),
                ConditionExpression="attribute_not_exists(document_id)",
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            pass

    # --- items ---------------------------------------------------------------------------

    def _load_chunks(self, document_id: str, version: str) -> list[tuple[Chunk, np.ndarray]]:
        pairs = []
        for item in self._query_partition(document_id, version=version):
            vector = np.frombuffer(item["vector"], dtype=np.float32)
            pairs.append((_chunk(item), vector))
        pairs.sort(key=lambda pair: pair[0].index)
        return pairs

    def _query_partition(self, document_id: str, *, version: str | None = None, keys_only: bool = False) -> Iterator[dict[str, Any]]:
        request: dict[str, Any] = {
            "TableName": self.table_name,
            # "#document" and "#lock" sort before every chunk id, which starts with a letter.
            "KeyConditionExpression": "document_id = :d AND chunk_id > :doc",
            "ExpressionAttributeValues": {":d": {"S": document_id}, ":doc": {"S": "#~"}},
            "ConsistentRead": True,
        }
        if version is not None:
            request["FilterExpression"] = "#v = :v"
            request["ExpressionAttributeNames"] = {"#v": "version"}
            request["ExpressionAttributeValues"][":v"] = {"S": version}
        if keys_only:
            request["ProjectionExpression"] = "document_id, chunk_id, #ver"
            request.setdefault("ExpressionAttributeNames", {})["#ver"] = "version"
        while True:
            page = self._client.query(**request)
            for item in page.get("Items", []):
                yield self._plain(item)
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _delete_version(self, document_id: str, version: str) -> None:
        self._batch_write([
            {"DeleteRequest": {"Key": self._key(document_id, item["chunk_id"])}}
            for item in self._query_partition(document_id, keys_only=True) if item.get("version") == version
        ])

    def _delete_chunks(self, document_id: str, keep_version: str | None) -> None:
        doomed = [
            {"DeleteRequest": {"Key": self._key(document_id, item["chunk_id"])}}
            for item in self._query_partition(document_id, keys_only=True)
            if keep_version is None or item.get("version") != keep_version
        ]
        self._batch_write(doomed)

    def _batch_write(self, requests: list[dict[str, Any]]) -> None:
        """BatchWriteItem in 25s; unprocessed items are retried with jittered backoff."""
        for start in range(0, len(requests), _BATCH):
            pending = requests[start : start + _BATCH]
            attempt = 0
            while pending:
                response = self._client.batch_write_item(RequestItems={self.table_name: pending})
                pending = response.get("UnprocessedItems", {}).get(self.table_name, [])
                if pending:
                    attempt += 1
                    if attempt > 10:
                        raise RuntimeError(f"DynamoDB kept {len(pending)} writes unprocessed after 10 retries")
                    time.sleep(min(self._max_backoff, 0.05 * 2**attempt) * random.uniform(0.5, 1.0))

    def _chunk_item(self, chunk: Chunk, vector: np.ndarray, version: str) -> dict[str, Any]:
        item = self._item(
            {
                "document_id": chunk.document_id, "chunk_id": chunk.chunk_id, "idx": chunk.index,
                "text": chunk.text, "page": chunk.page, "page_end": chunk.page_end,
                "heading": chunk.heading, "token_count": chunk.token_count, "version": version,
            }
        )
        item["vector"] = {"B": vector.astype(np.float32).tobytes()}  # 4 bytes a dimension, not JSON
        if self._vector_index:
            # The native vector index reads a list of numbers.
            item["embedding"] = {"L": [{"N": repr(float(x))} for x in vector]}
        return item

class _CorpusCache:
    """The live chunks and vectors of a warm process, rebuilt only when the corpus changes."""

    def __init__(self) -> None:
        self.corpus_version: int | None = None
        self.documents: dict[str, tuple[str, str, list[Chunk], np.ndarray]] = {}
        self.rows: list[tuple[Chunk, str]] = []
        self.matrix: np.ndarray | None = None
        self._bm25: BM25Index | None = None

    def replace(self, documents: dict[str, tuple[str, str, list[Chunk], np.ndarray]], version: int) -> None:
        ordered = sorted(documents)
        self.rows = [(c, documents[d][1]) for d in ordered for c in documents[d][2]]
        matrices = [documents[d][3] for d in ordered]
        self.matrix = np.vstack(matrices) if matrices else None
        self.documents = documents
        self._bm25 = None
        self.corpus_version = version

    def bm25(self) -> BM25Index:
        if self._bm25 is None:
            self._bm25 = BM25Index([c.embedding_text() for c, _ in self.rows])
        return self._bm25


def _chunk(item: dict[str, Any]) -> Chunk:
    def number(name: str) -> int | None:
        value = item.get(name)
        return int(value) if value is not None else None

    return Chunk(
        chunk_id=item["chunk_id"], document_id=item["document_id"], index=number("idx") or 0,
        text=item.get("text", ""), page=number("page"), page_end=number("page_end"),
        heading=item.get("heading"), token_count=number("token_count") or 0,
    )
