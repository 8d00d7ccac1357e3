"""Hosted embedding models for AWS deployments. Protocol tests: the official OpenAI SDK
against tests/openai_wire.py's /v1/embeddings, and Bedrock InvokeModel validated by
botocore's Stubber against the service model."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from embedder_contract import EmbedderContract
from openai_wire import Script, embedding_for, openai_wire_server

from rag_assistant.embedding import minilm
from rag_assistant.embedding.registry import create_embedder
from rag_assistant.embedding.remote import BedrockEmbedder, TokenCounter
from rag_assistant.errors import ConfigurationError, EmbeddingServiceError

SECRET = "sk-test-embeddings-not-real"


@pytest.fixture()
def openai_embedder(monkeypatch):
    script = Script()
    with openai_wire_server(script) as url:
        monkeypatch.setenv("OPENAI_BASE_URL", url)
        embedder = create_embedder("openai/text-embedding-3-small", cache_dir=None, openai_api_key=SECRET,
                                   max_retries=0)
        yield embedder, script


def test_openai_embeddings_protocol(openai_embedder) -> None:
    embedder, script = openai_embedder
    texts = ["zero trust network access", "bread flour water salt", "제로 트러스트"]
    vectors = embedder.embed_documents(texts)
    assert vectors.shape == (3, 1536) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    expected = np.asarray([embedding_for(t, 1536) for t in texts], dtype=np.float32)
    assert np.allclose(vectors, expected, atol=1e-5)  # in input order, although the server shuffled them
    request = script.requests[0]
    assert request["model"] == "text-embedding-3-small" and request["input"] == texts
    assert script.headers[0]["authorization"] == f"Bearer {SECRET}"
    assert embedder.name == "openai/text-embedding-3-small" and embedder.multilingual
    assert embedder.count_tokens(["zero trust network access"]) == [4]


def test_openai_embeddings_errors_are_clear_and_keyless(monkeypatch) -> None:
    script = Script(failures=[401])
    with openai_wire_server(script) as url:
        monkeypatch.setenv("OPENAI_BASE_URL", url)
        embedder = create_embedder("openai/text-embedding-3-small", cache_dir=None, openai_api_key=SECRET,
                                   max_retries=0)
        with pytest.raises(EmbeddingServiceError, match="answered 401") as raised:
            embedder.embed_query("anything")
    assert SECRET not in str(raised.value) and "Incorrect API key" not in str(raised.value)


def test_service_indexes_and_searches_with_openai_embeddings(openai_embedder, tmp_path) -> None:
    from rag_assistant.bootstrap import create_service
    from rag_assistant.config import Settings

    embedder, _ = openai_embedder
    service = create_service(Settings(RAG_DATA_DIR=tmp_path, LLM_PROVIDER="extractive"), embedder=embedder)
    service.ingest_bytes("upload:///a.md", "a.md", b"# Backups\nThe nightly backup runs at two o'clock.")
    service.ingest_bytes("upload:///b.md", "b.md", b"# Bread\nFlour, water, salt and yeast.")
    assert service.search("when does the nightly backup run")[0].file_name == "a.md"
    assert service.list_documents()[0][0].embedding_model == "openai/text-embedding-3-small"
    service.close()


def test_unknown_or_keyless_hosted_models_are_configuration_errors(monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="API key"):
        create_embedder("openai/text-embedding-3-small", cache_dir=None)
    with pytest.raises(ConfigurationError, match="available"):
        create_embedder("openai/text-embedding-ada-001", cache_dir=None, openai_api_key="k")


def bedrock_stub():
    import boto3

    client = boto3.client("bedrock-runtime", region_name="ap-northeast-2", aws_access_key_id="test",
                          aws_secret_access_key="test")
    return client, Stubber(client)


def body(payload: dict) -> dict:
    raw = json.dumps(payload).encode()
    return {"body": StreamingBody(io.BytesIO(raw), len(raw)), "contentType": "application/json"}


def counter():
    return TokenCounter(str(minilm.model_dir() / "tokenizer.json"))


def test_bedrock_titan_embeddings_protocol() -> None:
    client, stub = bedrock_stub()
    vector = [0.0] * 1024
    vector[3] = 2.0
    with stub:
        stub.add_response("invoke_model", body({"embedding": vector, "inputTextTokenCount": 4}), expected_params={
            "modelId": "amazon.titan-embed-text-v2:0", "contentType": "application/json", "accept": "application/json",
            "body": json.dumps({"inputText": "제로 트러스트", "dimensions": 1024, "normalize": True}).encode()})
        embedder = BedrockEmbedder("amazon.titan-embed-text-v2:0", region=None, timeout=5, max_retries=0,
                                   counter=counter(), client=client)
        result = embedder.embed_query("제로 트러스트")
        stub.assert_no_pending_responses()
    assert result.shape == (1024,) and result[3] == pytest.approx(1.0)
    assert embedder.name == "bedrock/amazon.titan-embed-text-v2:0"


def test_bedrock_cohere_embeddings_protocol_batches_with_input_types() -> None:
    client, stub = bedrock_stub()
    texts = [f"passage {i}" for i in range(3)]
    with stub:
        stub.add_response("invoke_model", body({"embeddings": [[1.0] + [0.0] * 1023] * 3}), expected_params={
            "modelId": "cohere.embed-multilingual-v3", "contentType": "application/json",
            "accept": "application/json",
            "body": json.dumps({"texts": texts, "input_type": "search_document", "truncate": "END"}).encode()})
        stub.add_response("invoke_model", body({"embeddings": [[0.0, 1.0] + [0.0] * 1022]}), expected_params={
            "modelId": "cohere.embed-multilingual-v3", "contentType": "application/json",
            "accept": "application/json",
            "body": json.dumps({"texts": ["a question"], "input_type": "search_query", "truncate": "END"}).encode()})
        embedder = BedrockEmbedder("cohere.embed-multilingual-v3", region=None, timeout=5, max_retries=0,
                                   counter=counter(), client=client)
        assert embedder.embed_documents(texts).shape == (3, 1024)
        assert embedder.embed_query("a question")[1] == pytest.approx(1.0)
        stub.assert_no_pending_responses()


def test_bedrock_embedding_errors() -> None:
    client, stub = bedrock_stub()
    with stub:
        stub.add_client_error("invoke_model", service_error_code="AccessDeniedException", http_status_code=403)
        embedder = BedrockEmbedder("amazon.titan-embed-text-v2:0", region=None, timeout=5, max_retries=0,
                                   counter=counter(), client=client)
        with pytest.raises(EmbeddingServiceError, match="AccessDeniedException"):
            embedder.embed_query("x")


class TestOpenAIEmbeddingsProtocolContract(EmbedderContract):
    """The OpenAI embedder keeps the embedder contract over the wire (protocol test: the
    official SDK against tests/openai_wire.py)."""

    @pytest.fixture()
    def embedder(self, openai_embedder):
        return openai_embedder[0]
