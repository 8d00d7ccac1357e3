"""Every setting of the assistant, in one typed place.

Resolution order: explicit argument > environment variable > documented default. The
variable names are the contract of docs/SPEC.md; the README has the full table (a test
keeps the two in step).
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_EMBEDDING_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
LLM_PROVIDERS = ("openai", "bedrock", "openai-compatible", "extractive")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _default_data_dir() -> Path:
    # XDG on Linux, the same place on macOS; per user, survives reinstalls.
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "rag-assistant"


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rag-assistant"


class Settings(BaseSettings):
    """Runtime configuration. Construct with keyword arguments to override the environment."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    # --- storage -----------------------------------------------------------------------
    vectorstore_backend: Literal["sqlite", "dynamodb"] = Field(
        "sqlite", validation_alias="VECTORSTORE_BACKEND"
    )
    data_dir: Path = Field(default_factory=_default_data_dir, validation_alias="RAG_DATA_DIR")
    cache_dir: Path = Field(default_factory=_default_cache_dir, validation_alias="RAG_CACHE_DIR")
    vectorstore_table_name: str = Field("rag-documents", validation_alias="VECTORSTORE_TABLE_NAME")
    bucket_name: str | None = Field(None, validation_alias="BUCKET_NAME")
    dynamodb_vector_index: str | None = Field(None, validation_alias="RAG_DYNAMODB_VECTOR_INDEX")
    # Large corpora: the vectors in Amazon S3 Vectors (a vector bucket and a cosine index of
    # the model's dimension) instead of the query function's memory.
    s3_vector_bucket: str | None = Field(None, validation_alias="RAG_S3_VECTOR_BUCKET")
    s3_vector_index: str | None = Field(None, validation_alias="RAG_S3_VECTOR_INDEX")
    # The S3 key (in BUCKET_NAME) of the corpus snapshot: the upload function writes it after
    # each commit, a cold query instance loads it instead of reading every chunk item.
    corpus_snapshot_key: str | None = Field(None, validation_alias="RAG_CORPUS_SNAPSHOT_KEY")

    # --- ingestion ---------------------------------------------------------------------
    chunk_size_tokens: int = Field(200, ge=16, le=510, validation_alias="RAG_CHUNK_SIZE")
    chunk_overlap_tokens: int = Field(32, ge=0, validation_alias="RAG_CHUNK_OVERLAP")
    max_file_bytes: int = Field(50 * 1024 * 1024, ge=1, validation_alias="RAG_MAX_FILE_BYTES")
    # What "too big" means for one document besides its bytes (ingestion/parsing.py); each
    # refusal is a failed document with code too_complex and the variable's name.
    max_pages: int = Field(2_000, ge=1, validation_alias="RAG_MAX_PAGES")
    max_document_chars: int = Field(3_000_000, ge=1_000, validation_alias="RAG_MAX_DOCUMENT_CHARS")
    max_chunks: int = Field(5_000, ge=1, validation_alias="RAG_MAX_CHUNKS")
    # Files are read in a reader process bounded in memory (address space) and time
    # (ingestion/isolation.py). 512 MB leaves the upload Lambda (1024 MB) room for the model.
    parse_isolation: Literal["process", "none"] = Field("process", validation_alias="RAG_PARSE_ISOLATION")
    parse_memory_mb: int = Field(512, ge=128, validation_alias="RAG_PARSE_MEMORY_MB")
    parse_timeout_seconds: float = Field(60.0, gt=0, le=900, validation_alias="RAG_PARSE_TIMEOUT")
    # Documents indexed at once (0: half the cores, at least one) and uploads that may wait
    # for one; past that an upload is refused as server_busy rather than slowing queries.
    ingest_workers: int = Field(0, ge=0, le=64, validation_alias="RAG_INGEST_WORKERS")
    ingest_queue: int = Field(16, ge=0, le=10_000, validation_alias="RAG_INGEST_QUEUE")

    # --- embeddings --------------------------------------------------------------------
    embedding_model_name: str = Field(
        DEFAULT_EMBEDDING_MODEL, validation_alias="EMBEDDING_MODEL_NAME"
    )
    # A folder written by `rag export-model` (model.onnx, tokenizer.json, model.json): the
    # Lambda functions load the int8 model shipped in their layer from here.
    embedding_model_dir: Path | None = Field(None, validation_alias="RAG_EMBEDDING_MODEL_DIR")
    # The packaged MiniLM locally: int8 (the Lambda layer's quantization, 1.8x faster) or fp32.
    embedding_precision: Literal["int8", "fp32"] = Field("int8", validation_alias="RAG_EMBEDDING_PRECISION")
    embedding_batch_size: int = Field(32, ge=1, le=512, validation_alias="RAG_EMBEDDING_BATCH_SIZE")
    embedding_threads: int = Field(0, ge=0, validation_alias="RAG_EMBEDDING_THREADS")

    # --- answers -----------------------------------------------------------------------
    # openai | bedrock | openai-compatible | extractive. openai without a key answers
    # extractively (the offline default); the response names the generator that answered.
    llm_provider: str = Field("openai", validation_alias="LLM_PROVIDER")
    openai_api_key: SecretStr | None = Field(None, validation_alias="OPENAI_API_KEY")
    # Default per provider (bootstrap.create_chat_model): cheap, fast models.
    llm_model: str | None = Field(None, validation_alias="LLM_MODEL")
    # openai-compatible servers (Ollama, vLLM, llama.cpp, LM Studio): their /v1 URL. The
    # OpenAI SDK's own OPENAI_BASE_URL is honoured too.
    llm_base_url: str | None = Field(None, validation_alias="LLM_BASE_URL")
    llm_temperature: float = Field(0.1, ge=0.0, le=2.0, validation_alias="LLM_TEMPERATURE")
    llm_max_tokens: int = Field(800, ge=16, le=16384, validation_alias="LLM_MAX_TOKENS")
    # Per attempt; with one retry the worst case stays inside API Gateway's 29 s.
    llm_timeout_seconds: float = Field(12.0, gt=0, le=600, validation_alias="LLM_TIMEOUT_SECONDS")
    llm_max_retries: int = Field(1, ge=0, le=5, validation_alias="LLM_MAX_RETRIES")
    bedrock_region: str | None = Field(None, validation_alias="BEDROCK_REGION")
    # The OpenAI SDK's own variable; LLM_BASE_URL wins when both are set.
    openai_base_url: str | None = Field(None, validation_alias="OPENAI_BASE_URL")
    # "input,output" US$ per million tokens, for the cost estimate in the logs.
    llm_price_per_mtok: str | None = Field(None, validation_alias="LLM_PRICE_PER_MTOK")
    # On AWS the key is read from SSM Parameter Store (SecureString) or Secrets Manager.
    openai_api_key_parameter: str = Field("/rag/openai-api-key", validation_alias="OPENAI_API_KEY_PARAMETER")
    openai_api_key_secret_id: str | None = Field(None, validation_alias="OPENAI_API_KEY_SECRET_ID")
    secrets_cache_seconds: int = Field(300, ge=0, validation_alias="RAG_SECRETS_CACHE_SECONDS")
    top_k: int = Field(5, ge=1, le=50, validation_alias="RAG_TOP_K")
    # The extractive answerer's gate: the weighted share of the question's words the best
    # passage must hold (Korean: 0.85 of it). Chosen on bench/bench_answers.py: 0.50 declines
    # 79-81% of questions about articles missing from the index and answers 96% of the others.
    min_relevance: float = Field(0.50, ge=0.0, le=1.0, validation_alias="RAG_MIN_RELEVANCE")
    # The extractive answerer reads its best English sentences with the sentence reader
    # (answering/reader.py, ~25 MB, ~10-40 ms a question); false answers on words alone.
    sentence_reader: bool = Field(True, validation_alias="RAG_SENTENCE_READER")
    retrieval_mode: Literal["hybrid", "dense", "keyword", "rrf"] = Field("hybrid", validation_alias="RAG_RETRIEVAL")
    # Dense weights of the hybrid, per question language (bench/bench_ranking.py): English on
    # SciFact train, Korean on KorQuAD's even articles (bigrams beat any packaged dense model).
    hybrid_dense_weight: float = Field(0.5, ge=0.0, le=1.0, validation_alias="RAG_HYBRID_DENSE_WEIGHT")
    hybrid_dense_weight_korean: float = Field(
        0.1, ge=0.0, le=1.0, validation_alias="RAG_HYBRID_DENSE_WEIGHT_KOREAN")

    # --- HTTP API ------------------------------------------------------------------------
    upload_url_expires_seconds: int = Field(900, ge=60, le=3600, validation_alias="RAG_UPLOAD_URL_EXPIRES")
    # Empty: same origin only (the page the server itself serves). "*" or a comma-separated
    # list opens the API to other sites' scripts (api/contract.py CorsPolicy).
    cors_allowed_origins: str = Field("", validation_alias="CORS_ALLOWED_ORIGINS")
    # Host names the local server answers to besides IP literals and localhost (DNS
    # rebinding protection); "*" turns the check off.
    allowed_hosts: str = Field("", validation_alias="RAG_ALLOWED_HOSTS")
    # The local server's token for write routes. Unset: none on loopback; beyond loopback
    # `rag serve` makes one up and prints it.
    api_token: SecretStr | None = Field(None, validation_alias="RAG_API_TOKEN")
    # Which routes need the token (locally) / the API key (AWS): writes (upload, delete),
    # all (questions and listings too) or none.
    auth_scope: Literal["none", "writes", "all"] = Field("writes", validation_alias="RAG_AUTH_SCOPE")

    # --- observability -----------------------------------------------------------------
    log_level: str = Field("INFO", validation_alias="LOG_LEVEL")

    # --- set by the platform, read only --------------------------------------------------
    # The region of AWS clients that have none of their own (Bedrock, hosted embeddings).
    aws_region: str | None = Field(None, validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION"))
    # Set by the Lambda runtime in every function: JSON logs, /tmp caches, no local files.
    lambda_function_name: str | None = Field(None, validation_alias="AWS_LAMBDA_FUNCTION_NAME")

    @field_validator("log_level")
    @classmethod
    def _upper_level(cls, value: str) -> str:
        level = value.strip().upper() or "INFO"
        # The names both logging and uvicorn (`rag serve`) know; any other crashed them at start.
        if level not in LOG_LEVELS:
            raise ValueError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, not {value!r}")
        return level

    @field_validator("llm_provider")
    @classmethod
    def _lower_provider(cls, value: str) -> str:
        provider = value.strip().lower() or "openai"
        if provider not in LLM_PROVIDERS:
            raise ValueError(f"LLM_PROVIDER must be one of {', '.join(LLM_PROVIDERS)}, not {value!r}")
        return provider

    @model_validator(mode="after")
    def _overlap_below_size(self) -> Settings:
        if self.chunk_overlap_tokens >= self.chunk_size_tokens:
            raise ValueError(
                f"RAG_CHUNK_OVERLAP ({self.chunk_overlap_tokens}) must be smaller than "
                f"RAG_CHUNK_SIZE ({self.chunk_size_tokens})"
            )
        return self

    @cached_property
    def store_path(self) -> Path:
        return self.data_dir / "index.sqlite3"

    @property
    def cors_origins(self) -> list[str]:
        """CORS_ALLOWED_ORIGINS as a list: [] (same origin only), ["*"] or the origins."""
        return [o.strip() for o in self.cors_allowed_origins.split(",") if o.strip()]

    @property
    def allowed_host_names(self) -> list[str]:
        return [h.strip().lower() for h in self.allowed_hosts.split(",") if h.strip()]

    @property
    def ingest_concurrency(self) -> int:
        """RAG_INGEST_WORKERS, or half the cores: the other half stays free for questions."""
        return self.ingest_workers or max(1, (os.cpu_count() or 1) // 2)

    @property
    def in_lambda(self) -> bool:
        return bool(self.lambda_function_name)

    @property
    def bedrock_region_or_default(self) -> str | None:
        return self.bedrock_region or self.aws_region


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit overrides winning."""
    return Settings(**overrides)  # type: ignore[arg-type]
