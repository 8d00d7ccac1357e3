"""Wires the configured backends into a RagService. The only place that picks them."""

from __future__ import annotations

import functools
import logging
from typing import Any

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
        import apsw

        from .store.sqlite_store import SqliteVectorStore

        # A user's folder and file: say what is wrong with them, not where SQLite noticed.
        try:
            return SqliteVectorStore(settings.store_path)
        except (OSError, apsw.CantOpenError) as exc:
            raise ConfigurationError(f"cannot use {settings.store_path.parent} as the index folder "
                                     f"(RAG_DATA_DIR): {getattr(exc, 'strerror', None) or exc}") from None
        except apsw.NotADBError:
            raise ConfigurationError(f"{settings.store_path} is not a SQLite index (damaged, or another "
                                     "file): move it away and index again") from None
    if settings.vectorstore_backend == "dynamodb":
        from .store.dynamodb_store import DynamoDBVectorStore

        snapshots = None
        if settings.corpus_snapshot_key and settings.bucket_name:
            from .blobs.s3 import S3BlobStore

            snapshots = S3BlobStore(settings.bucket_name)
        external = None
        if settings.s3_vector_bucket or settings.s3_vector_index:
            if not (settings.s3_vector_bucket and settings.s3_vector_index):
                raise ConfigurationError("S3 Vectors needs both RAG_S3_VECTOR_BUCKET and RAG_S3_VECTOR_INDEX")
            from .store.s3_vectors import S3VectorsIndex

            external = S3VectorsIndex(settings.s3_vector_bucket, settings.s3_vector_index)
        return DynamoDBVectorStore(
            settings.vectorstore_table_name, vector_index_name=settings.dynamodb_vector_index,
            snapshots=snapshots, snapshot_key=settings.corpus_snapshot_key or "", external_vectors=external,
        )
    raise ConfigurationError(f"VECTORSTORE_BACKEND={settings.vectorstore_backend!r} is not supported")


_DEFAULT_READER: Any = object()


def create_answerer(settings: Settings, reader: Any = _DEFAULT_READER) -> AnswerGenerator:
    """LLM_PROVIDER -> the answer generator. The extractive answerer is always built: it is
    the offline default and every LLM answerer's fallback. It reads with the sentence reader
    (`reader`, else create_reader's; whatever the embedder: the reader is its own model)."""
    from .answering.extractive import ExtractiveAnswerer

    if reader is _DEFAULT_READER:
        reader = create_reader(settings)
    extractive = ExtractiveAnswerer(min_relevance=settings.min_relevance, reader=reader)
    provider = settings.llm_provider
    if provider == "extractive":
        return extractive
    from .answering.chat import ProviderError
    from .answering.llm import LlmAnswerer

    try:
        chat = create_chat_model(settings)
    except ProviderError as exc:
        if provider == "openai" and "llm_provider" not in settings.model_fields_set:
            log.info("no OpenAI API key: answering extractively (the offline default)")
            return extractive
        log.warning("LLM_PROVIDER=%s is not usable (%s); answering extractively", provider, exc)
        # Named for what actually answers (/rag/config); each answer carries the notice.
        return LlmAnswerer(_Unavailable(provider, exc), extractive, name=extractive.name, streams_text=False)
    return LlmAnswerer(chat, extractive, price_override=settings.llm_price_per_mtok)


def create_reader(settings: Settings):  # -> answering.reader.SentenceReader | None
    """The sentence reader: from the exported model folder on Lambda (RAG_EMBEDDING_MODEL_DIR/
    reader), else built once into the cache from the MiniLM package. None when turned off
    (RAG_SENTENCE_READER=false) or not shipped: the answerer then reads on words alone."""
    if not settings.sentence_reader:
        return None
    from .answering.reader import MANIFEST, OnnxSentenceReader, cached_reader

    if settings.embedding_model_dir is not None:
        folder = settings.embedding_model_dir / "reader"
        if (folder / MANIFEST).is_file():
            return OnnxSentenceReader(lambda: folder, threads=settings.embedding_threads)
        log.warning("%s has no sentence reader (export it with `rag export-model`): answering on words alone",
                    "RAG_EMBEDDING_MODEL_DIR")
        return None
    try:
        from .embedding import minilm

        minilm.model_dir()
    except ConfigurationError as exc:  # the model package is not installed (a remote-embedding install)
        log.warning("no sentence reader (%s): answering on words alone", exc)
        return None
    return cached_reader(settings.cache_dir, threads=settings.embedding_threads)


def create_chat_model(settings: Settings):  # -> answering.chat.ChatModel
    from .answering.chat import ProviderError

    provider = settings.llm_provider
    common: dict[str, Any] = {"temperature": settings.llm_temperature, "max_tokens": settings.llm_max_tokens,
              "timeout": settings.llm_timeout_seconds, "max_retries": settings.llm_max_retries}
    if provider == "bedrock":
        from .answering.bedrock_chat import BedrockChat

        region = settings.bedrock_region_or_default
        return BedrockChat(model=settings.llm_model or default_bedrock_model(region), region=region, **common)
    from .answering.openai_chat import OpenAIChat

    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    if provider == "openai":
        if not key:
            raise ProviderError("not_configured", "no OpenAI API key is configured (OPENAI_API_KEY)")
        return OpenAIChat(provider="openai", model=settings.llm_model or "gpt-4o-mini", api_key=key,
                          base_url=settings.llm_base_url or settings.openai_base_url, **common)
    if provider == "openai-compatible":
        base_url = settings.llm_base_url or settings.openai_base_url
        if not base_url or not settings.llm_model:
            raise ConfigurationError(
                "LLM_PROVIDER=openai-compatible needs LLM_BASE_URL (e.g. http://localhost:11434/v1 for "
                "Ollama) and LLM_MODEL (e.g. llama3.2)")
        return OpenAIChat(provider="openai-compatible", model=settings.llm_model, api_key=key,
                          base_url=base_url, **common)
    raise ConfigurationError(f"LLM_PROVIDER={provider!r} is not supported")


def default_bedrock_model(region: str | None) -> str:
    """Amazon Nova Lite through the cross-region inference profile of the region's geography
    (the plain model id is not invocable on demand in most regions)."""
    geography = {"us": "us", "ca": "us", "eu": "eu", "ap": "apac"}.get((region or "us")[:2], "us")
    return f"{geography}.amazon.nova-lite-v1:0"


class _Unavailable:
    """A configured provider that cannot run (no key): every answer falls back, with the reason."""

    def __init__(self, provider: str, error: Exception) -> None:
        self.provider, self.model, self._error = provider, "-", error

    def complete(self, system: str, user: str):
        raise self._error

    def stream(self, system: str, user: str):
        raise self._error


def create_service(settings: Settings, *, embedder: Embedder | None = None) -> RagService:
    embedder = embedder or create_embedder(
        settings.embedding_model_name,
        cache_dir=settings.cache_dir,
        batch_size=settings.embedding_batch_size,
        threads=settings.embedding_threads,
        model_dir=settings.embedding_model_dir,
        openai_api_key=settings.openai_api_key.get_secret_value() if settings.openai_api_key else None,
        bedrock_region=settings.bedrock_region_or_default,
        precision=settings.embedding_precision,
    )
    store = create_store(settings)
    # One reader for the service's life, made with the first answerer (the documents function
    # never answers, and carries no numpy): an answerer rebuilt after a SnapStart restore
    # (RagService.reconnect) keeps the model loaded before the snapshot.
    reader = functools.cache(lambda: create_reader(settings))
    return RagService(settings, store, embedder, lambda: create_answerer(settings, reader()))
