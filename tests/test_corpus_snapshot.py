"""The corpus snapshot end to end on DynamoDB Local + moto's S3: the writer (the upload
function's store) saves it after each commit; a cold reader (a new query instance) loads it
and reads only what changed since; warm and cold readers see every addition and deletion
in their next query."""

from __future__ import annotations

import boto3
import pytest
from aws_services import create_bucket, create_table
from store_contract import EMBEDDER, put

from rag_assistant.blobs.s3 import S3BlobStore
from rag_assistant.store.dynamodb_store import DynamoDBVectorStore

KEY = "rag-index/corpus-snapshot.npz"


class Calls:
    """Every AWS call a client sends (botocore's before-call hook)."""

    def __init__(self, *clients) -> None:
        self.names: list[str] = []
        for client in clients:
            client.meta.events.register("before-call.*.*", self._record)

    def _record(self, event_name: str, **_) -> None:
        self.names.append(event_name.rsplit(".", 1)[-1])

    def clear(self) -> None:
        self.names.clear()


@pytest.fixture()
def places(aws_environment):
    table, bucket = create_table(), create_bucket()
    yield table, bucket
    boto3.client("dynamodb").delete_table(TableName=table)


def reader(table: str, bucket: str) -> tuple[DynamoDBVectorStore, Calls]:
    """A new query instance: its own clients, an empty memory."""
    blobs = S3BlobStore(bucket)
    store = DynamoDBVectorStore(table, snapshots=blobs, snapshot_key=KEY)
    calls = Calls(store._client, blobs._client)
    store.bind_model(EMBEDDER.name, EMBEDDER.dimension, claim=False)
    calls.clear()
    return store, calls


def found(store: DynamoDBVectorStore, text: str) -> set[str]:
    dense, keyword = store.hybrid_candidates(EMBEDDER.embed_query(text), text, 5)
    return {h.chunk.document_id for h in dense[:1] + keyword[:1]}


def test_added_and_deleted_documents_show_up_in_warm_and_cold_instances(places) -> None:
    table, bucket = places
    writer = DynamoDBVectorStore(table, snapshots=S3BlobStore(bucket), snapshot_key=KEY)
    writer.bind_model(EMBEDDER.name, EMBEDDER.dimension)
    for d in range(12):  # enough documents for a cold reader to prefer the snapshot
        put(writer, f"doc_{d}", [f"document {d} part {i} words{d}x{i}" for i in range(20)])
    snapshot = boto3.client("s3").get_object(Bucket=bucket, Key=KEY)["Body"].read()
    assert len(snapshot) > 0

    # A cold instance: the counter, the snapshot, the manifest, and no chunk item at all.
    warm, warm_calls = reader(table, bucket)
    assert found(warm, "words3x7") == {"doc_3"}
    assert warm.count_chunks() == 240
    assert sorted(warm_calls.names) == ["GetItem", "GetItem", "GetItem", "GetObject"]
    assert warm.last_refresh["chunk_items"] == 0 and warm.last_refresh["snapshot_bytes"] == len(snapshot)

    # Warm and nothing changed: one read of the counter per hybrid query.
    warm_calls.clear()
    assert found(warm, "words1x1") == {"doc_1"}
    assert warm_calls.names == ["GetItem"]

    # A document added: the warm instance reads that document alone; a new cold one reads
    # none (the writer saved a new snapshot after its commit).
    put(writer, "doc_new", ["a freshly added note about quokkas"])
    warm_calls.clear()
    assert found(warm, "quokkas") == {"doc_new"}
    assert warm_calls.names.count("Query") == 1 and "GetObject" not in warm_calls.names
    cold, cold_calls = reader(table, bucket)
    assert found(cold, "quokkas") == {"doc_new"}
    assert "Query" not in cold_calls.names and cold.count_chunks() == 241

    # A document deleted: gone from both at the next query.
    assert writer.delete_document("doc_3") is True
    assert "doc_3" not in found(warm, "words3x7")
    assert all(h.chunk.document_id != "doc_3" for h in warm.keyword_search("words3x7", 50))
    cold, cold_calls = reader(table, bucket)
    assert all(h.chunk.document_id != "doc_3" for h in cold.keyword_search("words3x7", 50))
    assert cold.count_chunks() == 221 and "Query" not in cold_calls.names


def test_a_stale_snapshot_costs_only_the_changed_documents(places) -> None:
    table, bucket = places
    writer = DynamoDBVectorStore(table, snapshots=S3BlobStore(bucket), snapshot_key=KEY)
    writer.bind_model(EMBEDDER.name, EMBEDDER.dimension)
    for d in range(12):
        put(writer, f"doc_{d}", [f"document {d} part {i}" for i in range(10)])
    # A writer without the snapshot (an older deployment) replaces one and deletes another.
    plain = DynamoDBVectorStore(table)
    plain.bind_model(EMBEDDER.name, EMBEDDER.dimension)
    put(plain, "doc_1", ["the replaced text of document one"], version="v2")
    plain.delete_document("doc_2")

    cold, calls = reader(table, bucket)
    assert found(cold, "replaced text of document one") == {"doc_1"}
    assert calls.names.count("Query") == 1  # doc_1's new version; doc_2 needs no read to go
    assert cold.count_chunks() == 101
    assert all(h.chunk.document_id != "doc_2" for h in cold.keyword_search("document 2", 50))


def test_a_corrupt_or_foreign_snapshot_falls_back_to_the_items(places) -> None:
    table, bucket = places
    writer = DynamoDBVectorStore(table)
    writer.bind_model(EMBEDDER.name, EMBEDDER.dimension)
    put(writer, "doc_a", ["alpha bravo charlie"])
    for d in range(11):
        put(writer, f"doc_{d}", [f"filler {d}"])
    s3 = boto3.client("s3")
    s3.put_object(Bucket=bucket, Key=KEY, Body=b"PK\x03\x04 not really a snapshot")
    cold, calls = reader(table, bucket)
    assert found(cold, "alpha bravo") == {"doc_a"} and calls.names.count("Query") == 12
    assert "GetObject" in calls.names  # it was tried, and refused

    # A valid snapshot of another table is not used either.
    other_table = create_table()
    other = DynamoDBVectorStore(other_table, snapshots=S3BlobStore(bucket), snapshot_key=KEY)
    other.bind_model(EMBEDDER.name, EMBEDDER.dimension)
    put(other, "doc_other", ["zulu yankee"])
    cold, calls = reader(table, bucket)
    assert found(cold, "alpha bravo") == {"doc_a"} and cold.count_chunks() == 12
    boto3.client("dynamodb").delete_table(TableName=other_table)


def test_a_small_corpus_is_read_from_the_table_without_an_s3_client(places) -> None:
    table, bucket = places
    writer = DynamoDBVectorStore(table, snapshots=S3BlobStore(bucket), snapshot_key=KEY)
    writer.bind_model(EMBEDDER.name, EMBEDDER.dimension)
    for d in range(3):
        put(writer, f"doc_{d}", [f"small corpus text {d}"])
    blobs = S3BlobStore(bucket)
    cold = DynamoDBVectorStore(table, snapshots=blobs, snapshot_key=KEY)
    cold.bind_model(EMBEDDER.name, EMBEDDER.dimension, claim=False)
    assert cold.count_chunks() == 3 and cold.last_refresh["documents_read"] == 3
    assert blobs._made is None  # no S3 client was even made
