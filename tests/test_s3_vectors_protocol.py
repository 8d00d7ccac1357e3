"""Large-corpus mode with Amazon S3 Vectors: the DynamoDB side runs on DynamoDB Local, the
s3vectors client is a botocore Stubber (no emulator implements S3 Vectors), so every
request is validated against botocore's S3 Vectors service model, and every canned
response against its output shape."""

from __future__ import annotations

import boto3
import numpy as np
import pytest
from aws_services import create_table
from botocore.exceptions import ParamValidationError
from botocore.stub import ANY, Stubber
from store_contract import EMBEDDER, make_chunks, make_document

from rag_assistant.store.dynamodb_store import DynamoDBVectorStore
from rag_assistant.store.s3_vectors import BATCH, S3VectorsIndex

BUCKET, INDEX = "rag-vectors", "chunks"


@pytest.fixture()
def stubbed():
    client = boto3.client("s3vectors", region_name="ap-northeast-2", aws_access_key_id="x",
                          aws_secret_access_key="x")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def where(**params) -> dict:
    return {"vectorBucketName": BUCKET, "indexName": INDEX, **params}


def test_protocol_s3_vectors_write_replace_query_delete(aws_environment, stubbed) -> None:
    client, stubber = stubbed
    table = create_table()
    store = DynamoDBVectorStore(table, external_vectors=S3VectorsIndex(BUCKET, INDEX, client=client))
    store.bind_model(EMBEDDER.name, EMBEDDER.dimension)

    texts = ["gateways and policy engines", "trust algorithms decide access"]
    chunks = make_chunks("doc_a", texts, "v1")
    vectors = EMBEDDER.embed_documents(texts)
    stubber.add_response("put_vectors", {}, where(vectors=[
        {"key": c.chunk_id, "data": {"float32": [float(x) for x in v]},
         "metadata": {"document_id": "doc_a", "version": ANY}} for c, v in zip(chunks, vectors, strict=True)]))
    store.replace_chunks(make_document("doc_a", chunk_count=2), chunks, vectors)

    # A new version: its vectors first, then (after the commit) the old keys are deleted.
    new = make_chunks("doc_a", ["policy enforcement points gate every request"], "v2")
    stubber.add_response("put_vectors", {}, where(vectors=ANY))
    stubber.add_response("delete_vectors", {}, where(keys=[c.chunk_id for c in chunks]))
    store.replace_chunks(make_document("doc_a", chunk_count=1), new, EMBEDDER.embed_documents([new[0].text]))

    # A query: the live key is hydrated from the warm corpus, a stale key (a deletion that
    # has not reached the index yet) is dropped. No vector was loaded into memory.
    query = EMBEDDER.embed_query("policy enforcement")
    stubber.add_response(
        "query_vectors",
        {"vectors": [{"key": chunks[0].chunk_id, "distance": 0.01, "metadata": {"document_id": "doc_a"}},
                     {"key": new[0].chunk_id, "distance": 0.2, "metadata": {"document_id": "doc_a"}}],
         "distanceMetric": "cosine"},
        where(topK=10, queryVector={"float32": [float(x) for x in query]}, returnMetadata=True,
              returnDistance=True))
    dense, keyword = store.hybrid_candidates(query, "policy enforcement", 5)
    assert [h.chunk.chunk_id for h in dense] == [new[0].chunk_id]
    assert dense[0].score == pytest.approx(0.8) and dense[0].file_name == "doc_a.txt"
    assert [h.chunk.chunk_id for h in keyword] == [new[0].chunk_id]  # the keyword side, in memory
    assert store._corpus.dimension == 0

    stubber.add_response("delete_vectors", {}, where(keys=[new[0].chunk_id]))
    assert store.delete_document("doc_a") is True
    boto3.client("dynamodb").delete_table(TableName=table)


def test_protocol_s3_vectors_batches_follow_the_service_limits(stubbed) -> None:
    client, stubber = stubbed
    index = S3VectorsIndex(BUCKET, INDEX, client=client)
    texts = [f"chunk {i}" for i in range(501)]
    chunks = make_chunks("doc_b", texts)
    vectors = np.zeros((501, 4), dtype=np.float32)
    stubber.add_response("put_vectors", {}, where(vectors=ANY))
    stubber.add_response("put_vectors", {}, where(vectors=ANY))
    index.put(chunks, vectors, "v1")
    stubber.add_response("delete_vectors", {}, where(keys=[c.chunk_id for c in chunks[:500]]))
    stubber.add_response("delete_vectors", {}, where(keys=[chunks[500].chunk_id]))
    index.delete([c.chunk_id for c in chunks])


def test_protocol_s3_vectors_model_rejects_what_the_service_rejects(stubbed) -> None:
    """The validation the tests above rely on is real; the batch size is the model's own."""
    client, stubber = stubbed
    model = client.meta.service_model
    for operation, member in (("PutVectors", "vectors"), ("DeleteVectors", "keys")):
        assert model.operation_model(operation).input_shape.members[member].metadata["max"] == BATCH
    stubber.add_response("query_vectors", {"vectors": [], "distanceMetric": "cosine"}, None)
    with pytest.raises(ParamValidationError):
        client.query_vectors(vectorBucketName=BUCKET, indexName=INDEX, topK=0, queryVector={"float32": [0.5]})
    with pytest.raises(ParamValidationError):
        client.query_vectors(vectorBucketName=BUCKET, indexName=INDEX, topK=1, queryVector=[0.5])
    client.query_vectors(vectorBucketName=BUCKET, indexName=INDEX, topK=1, queryVector={"float32": [0.5]})
