"""Protocol tests for what no emulator implements or can be made to do on demand:
DynamoDB's native vector search (SearchVectors) and BatchWriteItem's UnprocessedItems.
botocore validates every request against the DynamoDB service model before the Stubber
answers it, and the Stubber checks every canned response against the output shape."""

from __future__ import annotations

import boto3
import numpy as np
import pytest
from botocore.exceptions import ParamValidationError
from botocore.stub import ANY, Stubber

from rag_assistant.models import Chunk, Document, DocumentStatus
from rag_assistant.store.dynamodb_store import DynamoDBVectorStore


@pytest.fixture()
def stubbed():
    client = boto3.client(
        "dynamodb", region_name="ap-northeast-2", aws_access_key_id="x", aws_secret_access_key="x"
    )

    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def manifest_response(documents: dict[str, dict[str, str]]) -> dict:
    return {"Item": {
        "document_id": {"S": "#meta"}, "chunk_id": {"S": "#manifest"},
        "documents": {"M": {d: {"M": {k: {"S": v} for k, v in live.items()}} for d, live in documents.items()}},
    }}


def test_protocol_search_vectors_request_is_valid_and_stale_versions_are_dropped(stubbed) -> None:
    """Large-corpus mode: SearchVectors returns keys; the warm corpus (texts and keyword
    postings, no vectors) supplies the chunks and drops versions that are not live."""
    client, stubber = stubbed
    store = DynamoDBVectorStore("rag-documents", client=client, vector_index_name="chunk-vectors")
    store._model = ("m", 4)
    query = np.full(4, 0.5, dtype=np.float32)
    key = {"TableName": "rag-documents", "ConsistentRead": True}
    stubber.add_response("get_item", {"Item": {"document_id": {"S": "#meta"}, "chunk_id": {"S": "#counter"},
                                               "corpus_version": {"N": "7"}}},
                         key | {"Key": {"document_id": {"S": "#meta"}, "chunk_id": {"S": "#counter"}}})
    stubber.add_response("get_item", manifest_response({"doc_a": {"v": "live1", "f": "a.pdf"}}),
                         key | {"Key": {"document_id": {"S": "#meta"}, "chunk_id": {"S": "#manifest"}}})

    def item(chunk_id: str, index: int) -> dict:
        return {"document_id": {"S": "doc_a"}, "chunk_id": {"S": chunk_id}, "text": {"S": f"text {chunk_id}"},
                "idx": {"N": str(index)}, "page": {"N": "3"}, "version": {"S": "live1"}}

    # The keyword side loads texts without vectors (the projection leaves `vector` out).
    stubber.add_response("query", {"Items": [item("doc_a:1", 0), item("doc_a:2", 1)]}, {
        "TableName": "rag-documents", "KeyConditionExpression": ANY, "ExpressionAttributeValues": ANY,
        "ConsistentRead": True, "FilterExpression": "#v = :v",
        "ProjectionExpression": "document_id, chunk_id, #t, idx, page, page_end, heading, token_count, #v",
        "ExpressionAttributeNames": {"#v": "version", "#t": "text"}})

    def result(chunk_id: str, score: float) -> dict:
        return {"Item": {"document_id": {"S": "doc_a"}, "chunk_id": {"S": chunk_id}}, "Score": score}

    stubber.add_response(
        "search_vectors",
        {"SearchResults": [result("doc_a:1", 0.1), result("doc_a:old", 0.05), result("doc_a:2", 0.4)],
         "ConsumedCapacity": {"VectorSearchRequestBytes": 16.0}},
        {"TableName": "rag-documents", "IndexName": "chunk-vectors",
         "SearchVector": [{"N": "0.5"}] * 4, "TopK": 4,
         "ProjectionExpression": "document_id, chunk_id", "ReturnConsumedCapacity": "TOTAL"},
    )
    hits = store.search(query, 2)
    assert [h.chunk.chunk_id for h in hits] == ["doc_a:1", "doc_a:2"]
    assert hits[0].score == pytest.approx(0.9) and hits[0].file_name == "a.pdf" and hits[0].chunk.page == 3
    assert store._corpus.dimension == 0  # no vector was loaded into memory
    # The keyword side works on the same warm corpus: one more counter read, nothing else.
    stubber.add_response("get_item", {"Item": {"document_id": {"S": "#meta"}, "chunk_id": {"S": "#counter"},
                                               "corpus_version": {"N": "7"}}}, None)
    assert [h.chunk.chunk_id for h in store.keyword_search("text doc_a:2", 1)] == ["doc_a:2"]


def test_protocol_search_vectors_rejects_what_the_service_model_rejects(stubbed) -> None:
    """The validation the other protocol tests rely on is real: a malformed vector fails."""
    client, stubber = stubbed
    stubber.add_response("search_vectors", {"SearchResults": []}, None)
    with pytest.raises(ParamValidationError):
        client.search_vectors(TableName="rag-documents", IndexName="chunk-vectors", SearchVector=[0.5], TopK=1)
    client.search_vectors(TableName="rag-documents", IndexName="chunk-vectors", SearchVector=[{"N": "0.5"}], TopK=1)


def test_protocol_unprocessed_items_are_retried_until_written(stubbed) -> None:
    client, stubber = stubbed
    store = DynamoDBVectorStore("rag-documents", client=client, max_backoff_seconds=0.01)
    store._model = ("m", 2)
    chunks = [Chunk(chunk_id=f"d:{i}", document_id="d", index=i, text=f"t{i}") for i in range(3)]
    vectors = np.ones((3, 2), dtype=np.float32)
    puts = {"rag-documents": ANY}
    unprocessed = {"UnprocessedItems": {"rag-documents": [
        {"PutRequest": {"Item": {"document_id": {"S": "d"}, "chunk_id": {"S": "d:2"}}}}]}}
    stubber.add_response("batch_write_item", unprocessed, {"RequestItems": puts})
    stubber.add_response("batch_write_item", unprocessed, {"RequestItems": puts})
    stubber.add_response("batch_write_item", {"UnprocessedItems": {}}, {"RequestItems": puts})
    # The commit, the manifest, the counter, then the sweep of old chunks.
    stubber.add_response("update_item", {}, {"TableName": "rag-documents", "Key": ANY, "UpdateExpression": ANY,
                                            "ExpressionAttributeNames": ANY, "ExpressionAttributeValues": ANY})
    stubber.add_response("put_item", {}, {"TableName": "rag-documents", "Item": ANY, "ConditionExpression": ANY})
    stubber.add_response("update_item", {}, {"TableName": "rag-documents", "Key": ANY, "UpdateExpression": ANY,
                                            "ExpressionAttributeNames": ANY, "ExpressionAttributeValues": ANY})
    stubber.add_response("update_item", {}, {"TableName": "rag-documents", "Key": ANY, "UpdateExpression": ANY,
                                            "ExpressionAttributeNames": ANY, "ExpressionAttributeValues": ANY})
    stubber.add_response("query", {"Items": []}, None)
    document = Document("d", "d.txt", "s3://b/d.txt", "h" * 64, DocumentStatus.READY, 3,
                        created_at="2026-01-01T00:00:00.000Z", updated_at="2026-01-01T00:00:00.000Z")
    store.replace_chunks(document, chunks, vectors)


def test_protocol_throttled_batches_give_up_with_a_clear_error(stubbed) -> None:
    client, stubber = stubbed
    store = DynamoDBVectorStore("rag-documents", client=client, max_backoff_seconds=0.001)
    stuck = {"UnprocessedItems": {"rag-documents": [
        {"DeleteRequest": {"Key": {"document_id": {"S": "d"}, "chunk_id": {"S": "d:1"}}}}]}}
    for _ in range(11):
        stubber.add_response("batch_write_item", stuck, None)
    with pytest.raises(RuntimeError, match="unprocessed after 10 retries"):
        store._batch_write(stuck["UnprocessedItems"]["rag-documents"])
