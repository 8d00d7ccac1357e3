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
a document. Warm Lambdas keep the live corpus in memory (store/corpus_index.py) and refresh
only what changed, so a warm query costs one small read (the counter) instead of a scan.

The corpus snapshot (optional, `snapshots`): after each commit the writer saves its corpus
as one S3 object (int8 vectors, texts, keyword postings). A cold reader loads that object,
then reads the manifest and only the documents whose live version differs from the
snapshot's: its start costs the same whatever the number of items. The manifest stays the
truth; a stale or missing snapshot only means more item reads.

Large corpora (`vector_index_name`: DynamoDB SearchVectors): the vectors stay in the
service's index and the warm corpus holds texts and keyword postings only.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import LeaseLostError, ModelMismatchError
from ..models import Chunk, Document, SearchHit
from ..text.bm25 import BM25Parameters
from .base import lease_owner_gone, replace_one
from .corpus_index import CorpusIndex, DocumentRows
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
#: Below this many documents a cold reader reads the chunk items (about one Query each)
#: rather than create an S3 client and fetch the snapshot (~75 ms + a GET).
SNAPSHOT_MIN_DOCUMENTS = 10


class DynamoDBVectorStore(DynamoDBCatalog):
    def __init__(
        self,
        table_name: str,
        *,
        client: Any = None,
        vector_index_name: str | None = None,
        max_backoff_seconds: float = 5.0,
        snapshots: Any = None,
        snapshot_key: str = "rag-index/corpus-snapshot.npz",
        bm25: BM25Parameters | None = None,
        external_vectors: Any = None,
    ) -> None:
        super().__init__(table_name, client=client)
        self._vector_index = vector_index_name
        #: An S3VectorsIndex (store/s3_vectors.py) holding the vectors of a large corpus, or None.
        self._external = external_vectors
        self._max_backoff = max_backoff_seconds
        self._model: tuple[str, int] | None = None
        self._lock = threading.RLock()
        self._refresh_lock = threading.Lock()
        #: A BlobStore (blobs/base.py) for the corpus snapshot, or None.
        self._snapshots = snapshots
        self._snapshot_key = snapshot_key
        self._bm25 = bm25
        self._corpus: CorpusIndex | None = None
        #: Item reads of the last refresh, for the benchmarks and tests.
        self.last_refresh: dict[str, int] = {}
        #: A cold reader loads the snapshot when the manifest lists at least this many documents.
        self.snapshot_min_documents = SNAPSHOT_MIN_DOCUMENTS

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
                raise LeaseLostError() from None
            raise

    def replace_chunks(
        self, document: Document, chunks: Sequence[Chunk], vectors: np.ndarray, *, lease_owner: str | None = None
    ) -> None:
        replace_one(self, document, chunks, vectors, lease_owner)

    def replace_documents(
        self, batch: Sequence[tuple[Document, Sequence[Chunk], np.ndarray]],
        *, lease_owners: Mapping[str, str] | None = None,
    ) -> list[str]:
        """Each document committed on its own (DynamoDB has no transaction that large), then
        one snapshot for the whole batch; a document whose lease was lost is dropped and its
        id returned."""
        if self._model is None:
            raise RuntimeError("bind_model() must be called before chunks are written")
        for _, chunks, vectors in batch:
            vectors = np.ascontiguousarray(vectors, dtype=np.float32)
            if len(chunks) != len(vectors) or (len(chunks) and vectors.shape[1] != self._model[1]):
                raise ValueError(f"expected one {self._model[1]}-dimensional vector per chunk")
        lost = []
        for document, chunks, vectors in batch:
            owner = (lease_owners or {}).get(document.document_id)
            try:
                self._replace(document, chunks, np.ascontiguousarray(vectors, dtype=np.float32), owner)
            except LeaseLostError:
                lost.append(document.document_id)
        self._save_snapshot()
        return lost

    def _replace(self, document: Document, chunks: Sequence[Chunk], vectors: np.ndarray, lease_owner: str | None) -> None:
        version = uuid.uuid4().hex[:16]
        with self._lock:
            # 1. the new version, invisible: nothing points at it yet
            self._batch_write(
                [{"PutRequest": {"Item": self._chunk_item(c, v, version)}} for c, v in zip(chunks, vectors, strict=True)]
            )
            if self._external is not None:
                self._external.put(chunks, vectors, version)
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
                    self._drop_version(document.document_id, chunks, version)
                    raise
                self._bump_counter()
            # 3. the old version, now unreachable, is removed
            swept = self._delete_chunks(document.document_id, keep_version=version)
            if self._external is not None and swept:
                kept = {c.chunk_id for c in chunks}  # the same key rewritten is the new vector
                self._external.delete([k for k in swept if k not in kept])

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
            swept = self._delete_chunks(document_id, keep_version=None)
            if self._external is not None and swept:
                self._external.delete(swept)
            self.unlock_document(document_id, fence)
        self._save_snapshot()
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
        corpus = self._current_corpus()
        return len(corpus) if corpus else 0

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
        # Expired and taken over: not ours to release.
        with contextlib.suppress(self._client.exceptions.ConditionalCheckFailedException):
            self._client.delete_item(
                TableName=self.table_name,
                Key=self._key(document_id, _LEASE_SK),
                ConditionExpression="#o = :owner",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={":owner": {"S": owner}},
            )

    # --- retrieval -----------------------------------------------------------------------

    def search(self, query_vector: np.ndarray, top_k: int) -> list[SearchHit]:
        corpus = self._current_corpus()
        if corpus is None or top_k < 1:
            return []
        return self._dense(corpus, query_vector, top_k)

    def keyword_search(self, query: str, top_k: int) -> list[SearchHit]:
        corpus = self._current_corpus()
        return corpus.keyword_search(query, top_k) if corpus else []

    def hybrid_candidates(
        self, query_vector: np.ndarray, query: str, top_k: int
    ) -> tuple[list[SearchHit], list[SearchHit]]:
        corpus = self._current_corpus()
        if corpus is None or top_k < 1:
            return [], []
        return self._dense(corpus, query_vector, top_k), corpus.keyword_search(query, top_k)

    def _dense(self, corpus: CorpusIndex, query_vector: np.ndarray, top_k: int) -> list[SearchHit]:
        if self._vector_index:
            return self._search_native(corpus, query_vector, top_k)
        if self._external is not None:
            # Twice as many: results of versions that are not live are dropped.
            return corpus.hits_for(self._external.query(query_vector, top_k * 2))[:top_k]
        return corpus.search(query_vector, top_k)

    def _search_native(self, corpus: CorpusIndex, query_vector: np.ndarray, top_k: int) -> list[SearchHit]:
        """DynamoDB's vector index (SearchVectors). Results are keys only; the warm corpus
        supplies the text and drops versions that are not live (a write in progress, an
        old version being deleted)."""
        response = self._client.search_vectors(
            TableName=self.table_name,
            IndexName=self._vector_index,
            SearchVector=[{"N": repr(float(x))} for x in np.asarray(query_vector, dtype=np.float32)],
            TopK=int(top_k) * 2,
            ProjectionExpression="document_id, chunk_id",
            ReturnConsumedCapacity="TOTAL",
        )
        # COSINE scores are distances in [0, 2]: report similarity like the other stores.
        matches = [(r["Item"]["document_id"]["S"], r["Item"]["chunk_id"]["S"], 1.0 - float(r["Score"]))
                   for r in response.get("SearchResults", [])]
        return corpus.hits_for(matches)[:top_k]

    def close(self) -> None:
        pass

    def reconnect(self) -> None:
        super().reconnect()
        for part in (self._snapshots, self._external):
            if part is not None and hasattr(part, "reconnect"):
                part.reconnect()

    # --- the warm corpus -----------------------------------------------------------------

    @property
    def _vectors_in_memory(self) -> bool:
        return not self._vector_index and self._external is None

    def _current_corpus(self) -> CorpusIndex | None:
        """The live corpus: one GetItem (the counter) when nothing changed."""
        if self._model is None:
            return None
        counter = self._get(META_PK, "#counter", consistent=True)
        version = int(counter["corpus_version"]) if counter else 0
        corpus = self._corpus
        if corpus is not None and corpus.version == version:
            return corpus
        with self._refresh_lock:
            corpus = self._corpus
            if corpus is not None and corpus.version == version:
                return corpus
            return self._refresh(version)

    def _refresh(self, version: int) -> CorpusIndex:
        reads = {"snapshot_bytes": 0, "documents_read": 0, "chunk_items": 0}
        manifest = self._manifest()
        corpus = self._corpus
        if corpus is None:
            # A handful of documents reads faster from the table than an S3 client is made.
            if len(manifest) >= self.snapshot_min_documents:
                corpus = self._load_snapshot(reads)
            corpus = corpus or self._empty_corpus()
        indexed = corpus.documents()
        gone = [d for d in indexed if d not in manifest]
        rows, complete = [], True
        for document_id, live in manifest.items():
            if indexed.get(document_id) == live["v"]:
                continue
            pairs = self._load_chunks(document_id, live["v"], with_vectors=self._vectors_in_memory)
            reads["documents_read"] += 1
            reads["chunk_items"] += len(pairs)
            if not pairs:
                complete = False  # published but not readable yet: tried again next query
                continue
            chunks = [c for c, _ in pairs]
            matrix = (np.stack([v for _, v in pairs if v is not None]) if self._vectors_in_memory
                      else np.zeros((len(pairs), 0), dtype=np.float32))
            rows.append(DocumentRows(document_id, live["v"], live["f"], chunks, matrix))
        corpus.update(rows, gone, version=version if complete else corpus.version)
        self._corpus = corpus
        self.last_refresh = reads
        log.debug("corpus refreshed", extra={"corpus_version": version, **reads})
        return corpus

    def _empty_corpus(self) -> CorpusIndex:
        assert self._model is not None
        return CorpusIndex(self._model[1] if self._vectors_in_memory else 0, parameters=self._bm25)

    def _load_snapshot(self, reads: dict[str, int]) -> CorpusIndex | None:
        if self._snapshots is None:
            return None
        try:
            data = self._snapshots.get(self._snapshot_key)
            corpus = CorpusIndex.from_bytes(data, parameters=self._bm25)
        except Exception as exc:  # absent, archived, stale format: the items are the truth
            log.info("no usable corpus snapshot (%s: %s); reading the items", type(exc).__name__, exc)
            return None
        assert self._model is not None
        expected = self._model[1] if self._vectors_in_memory else 0
        if corpus.label != self.table_name or corpus.dimension != expected:
            log.info("the corpus snapshot belongs to another table or mode; reading the items")
            return None
        reads["snapshot_bytes"] = len(data)
        return corpus

    def _save_snapshot(self) -> None:
        """After a commit: bring this process's corpus up to date and write it as the
        snapshot. A failure costs the next cold reader item reads, never the commit."""
        if self._snapshots is None:
            return
        try:
            corpus = self._current_corpus()
            if corpus is None:
                return
            corpus.label = self.table_name
            self._snapshots.put(self._snapshot_key, corpus.to_bytes(quantize=True))
        except Exception:
            log.warning("could not write the corpus snapshot", exc_info=True)

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
        with contextlib.suppress(self._client.exceptions.ConditionalCheckFailedException):
            self._client.put_item(
                TableName=self.table_name,
                Item=self._item({"document_id": META_PK, "chunk_id": "#manifest", "documents": {}, "corpus_version": 0}),
                ConditionExpression="attribute_not_exists(document_id)",
            )

    # --- items ---------------------------------------------------------------------------

    def _load_chunks(self, document_id: str, version: str, *, with_vectors: bool = True
                     ) -> list[tuple[Chunk, np.ndarray | None]]:
        pairs = []
        for item in self._query_partition(document_id, version=version, with_vectors=with_vectors):
            vector = np.frombuffer(item["vector"], dtype=np.float32) if with_vectors else None
            pairs.append((_chunk(item), vector))
        pairs.sort(key=lambda pair: pair[0].index)
        return pairs

    def _query_partition(self, document_id: str, *, version: str | None = None, keys_only: bool = False,
                         with_vectors: bool = True) -> Iterator[dict[str, Any]]:
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
        elif not with_vectors:
            # The keyword side of a large corpus: texts without the vectors.
            request["ProjectionExpression"] = "document_id, chunk_id, #t, idx, page, page_end, heading, token_count, #v"
            request.setdefault("ExpressionAttributeNames", {}).update({"#t": "text", "#v": "version"})
        while True:
            page = self._client.query(**request)
            for item in page.get("Items", []):
                yield self._plain(item)
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _drop_version(self, document_id: str, chunks: Sequence[Chunk], version: str) -> None:
        """Remove a version that lost its lease before it became live: its chunk items, and
        its vectors in the external index unless a live version owns those keys now (a
        new upload's keys are the same chunk ids; stale keys are dropped at query time)."""
        self._batch_write([
            {"DeleteRequest": {"Key": self._key(document_id, item["chunk_id"])}}
            for item in self._query_partition(document_id, keys_only=True) if item.get("version") == version
        ])
        if self._external is not None and not self._get(document_id, DOCUMENT_SK, consistent=True):
            self._external.delete([c.chunk_id for c in chunks])

    def _delete_chunks(self, document_id: str, keep_version: str | None) -> list[str]:
        """Delete the document's chunk items of other versions; returns their chunk ids."""
        doomed = [
            item["chunk_id"] for item in self._query_partition(document_id, keys_only=True)
            if keep_version is None or item.get("version") != keep_version
        ]
        self._batch_write([{"DeleteRequest": {"Key": self._key(document_id, c)}} for c in doomed])
        return doomed

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

def _chunk(item: dict[str, Any]) -> Chunk:
    def number(name: str) -> int | None:
        value = item.get(name)
        return int(value) if value is not None else None

    return Chunk(
        chunk_id=item["chunk_id"], document_id=item["document_id"], index=number("idx") or 0,
        text=item.get("text", ""), page=number("page"), page_end=number("page_end"),
        heading=item.get("heading"), token_count=number("token_count") or 0,
    )
