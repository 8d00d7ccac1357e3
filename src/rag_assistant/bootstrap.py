"""Wires the configured backends into a RagService. The only place that picks them."""

from __future__ import annotations

import logging

from .answering.base import AnswerGenerator
from .config import Settings
from .embedding.base import Embedder
from .embedding.registry import create_embedder
from .errors import ConfigurationError
from .service import RagService
from .store.base import VectorStore

log = logging.getLogger("rag_assistant")


def create_store(settings: Settings) -> VectorStore:
    if settings.vectorstore_backend == "sqlite":
        from .store.sqlite_store import SqliteVectorStore

        return SqliteVectorStore(settings.store_path)
    if settings.vectorstore_backend == "dynamodb":
        from .store.dynamodb_store import DynamoDBVectorStore

        return DynamoDBVectorStore(
            settings.vectorstore_table_name, vector_index_name=settings.dynamodb_vector_index
        )
    raise ConfigurationError(f"VECTORSTORE_BACKEND={settings.vectorstore_backend!r} is not supported")


def create_answerer(settings: Settings, embedder: Embedder) -> AnswerGenerator:
    from .answering.extractive import ExtractiveAnswerer

    provider = settings.llm_provider
    if provider not in ("extractive", "openai"):
        raise ConfigurationError(
            f"LLM_PROVIDER={provider!r} is not supported; use 'extractive' or 'openai'"
        )
    if provider == "openai" and settings.openai_api_key is not None:
        log.warning("LLM answers are not available yet; answering extractively")
    return ExtractiveAnswerer(embedder, min_relevance=settings.min_relevance)


def create_service(settings: Settings, *, embedder: Embedder | None = None) -> RagService:
    embedder = embedder or create_embedder(
        settings.embedding_model_name,
        cache_dir=settings.cache_dir,
        batch_size=settings.embedding_batch_size,
        threads=settings.embedding_threads,
        model_dir=settings.embedding_model_dir,
    )
    store = create_store(settings)
    return RagService(settings, store, embedder, lambda: create_answerer(settings, embedder))
