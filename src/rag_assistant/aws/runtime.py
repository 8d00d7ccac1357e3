"""What a Lambda function keeps between invocations: settings and services, built on first
use (cheap constructors; the model loads on the first question or document)."""

from __future__ import annotations

from functools import lru_cache

from ..config import Settings, load_settings
from ..errors import ConfigurationError


@lru_cache(maxsize=1)
def settings() -> Settings:
    loaded = load_settings()
    if loaded.vectorstore_backend != "dynamodb":
        raise ConfigurationError("the Lambda functions need VECTORSTORE_BACKEND=dynamodb")
    return loaded


@lru_cache(maxsize=1)
def rag_service():
    """The service for ingestion (the upload function): reads the OpenAI key only when the
    embedding model is OpenAI's."""
    from ..bootstrap import create_service

    return create_service(_with_key(settings(), for_answers=False))


@lru_cache(maxsize=1)
def answering_settings() -> Settings:
    """The query function's settings: with the OpenAI key if one is stored."""
    return _with_key(settings(), for_answers=True)


@lru_cache(maxsize=1)
def answering_service():
    """The service for questions (the query function)."""
    from ..bootstrap import create_service

    return create_service(answering_settings())


def _with_key(config: Settings, *, for_answers: bool) -> Settings:
    from .secrets import openai_api_key

    needed = config.embedding_model_name.startswith("openai/") or (
        for_answers and config.llm_provider == "openai")
    if needed:
        key = openai_api_key(config)
        if key is not None:
            return config.model_copy(update={"openai_api_key": key})
    return config


@lru_cache(maxsize=1)
def blob_store():
    from ..blobs.s3 import S3BlobStore

    bucket = settings().bucket_name
    if not bucket:
        raise ConfigurationError("BUCKET_NAME is not set")
    return S3BlobStore(bucket)


@lru_cache(maxsize=1)
def document_store():
    """The read-only catalog, for the documents function: no vectors, no numpy."""
    from ..store.dynamodb_catalog import DynamoDBCatalog

    return DynamoDBCatalog(settings().vectorstore_table_name)


def reconnect() -> None:
    """New AWS clients (connections, credentials) for whatever was built: after a SnapStart
    restore. Nothing is rebuilt that was not built."""
    for cached in (rag_service, answering_service, blob_store, document_store):
        if cached.cache_info().currsize:
            cached().reconnect()
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()


def reset() -> None:
    """Forget everything (tests switch tables, buckets and keys between cases)."""
    for cached in (settings, rag_service, answering_settings, answering_service, blob_store, document_store):
        cached.cache_clear()
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()
