"""The DynamoDB store against DynamoDB Local: the shared store contract, plus what only
this backend has (warm reads, retries, the native vector index protocol)."""

import boto3
import numpy as np
import pytest
from aws_services import create_table
from store_contract import EMBEDDER, LeaseContract, StoreContract, put

from rag_assistant.store.dynamodb_store import DynamoDBVectorStore


class TestDynamoDBStore(StoreContract, LeaseContract):
    @pytest.fixture()
    def store(self, aws_environment):
        table = create_table()
        yield DynamoDBVectorStore(table)
        boto3.client("dynamodb").delete_table(TableName=table)


class CallCounter:
    def __init__(self, client) -> None:
        self.calls: list[str] = []
        client.meta.events.register("before-call.dynamodb.*", self._count)

    def _count(self, event_name: str, **kwargs) -> None:
        self.calls.append(event_name.rsplit(".", 1)[-1])


def test_a_warm_query_on_10k_chunks_reads_one_small_item(aws_environment) -> None:
    table = create_table()
    writer = DynamoDBVectorStore(table)
    writer.bind_model(EMBEDDER.name, EMBEDDER.dimension)
    rng = np.random.default_rng(3)
    for d in range(20):  # 20 documents x 500 chunks
        texts = [f"document {d} chunk {i} topic {rng.integers(1000)}" for i in range(500)]
        put(writer, f"doc_{d:02d}", texts)

    reader = DynamoDBVectorStore(table)  # a warm Lambda of the query function
    counter = CallCounter(reader._client)
    reader.bind_model(EMBEDDER.name, EMBEDDER.dimension)
    cold = reader.search(EMBEDDER.embed_query("document 7 chunk 3"), 5)
    assert cold[0].chunk.document_id == "doc_07"
    assert reader.count_chunks() == 10_000
    counter.calls.clear()

    for query in ("document 3 chunk 9", "topic 5", "chunk 250"):
        assert len(reader.search(EMBEDDER.embed_query(query), 5)) == 5
    # One GetItem of the corpus counter per query; no Query, no Scan.
    assert counter.calls == ["GetItem"] * 3

    # A change elsewhere is picked up incrementally: only the changed document is read.
    put(writer, "doc_03", ["replacement text for document three"], version="v2")
    counter.calls.clear()
    hits = reader.search(EMBEDDER.embed_query("replacement text for document three"), 3)
    assert hits[0].chunk.text == "replacement text for document three"
    assert sorted(set(counter.calls)) == ["GetItem", "Query"]
    assert counter.calls.count("Query") == 1
    assert reader.count_chunks() == 9_501
    boto3.client("dynamodb").delete_table(TableName=table)


def test_vectors_are_stored_as_compact_binary(aws_environment) -> None:
    table = create_table()
    store = DynamoDBVectorStore(table)
    store.bind_model(EMBEDDER.name, EMBEDDER.dimension)
    put(store, "doc_a", ["binary vectors please"])
    item = boto3.client("dynamodb").query(
        TableName=table, KeyConditionExpression="document_id = :d AND chunk_id > :s",
        ExpressionAttributeValues={":d": {"S": "doc_a"}, ":s": {"S": "#document"}},
    )["Items"][0]
    assert set(item["vector"]) == {"B"} and len(item["vector"]["B"]) == 4 * EMBEDDER.dimension
    boto3.client("dynamodb").delete_table(TableName=table)
