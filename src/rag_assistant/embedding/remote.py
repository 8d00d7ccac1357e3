"""Hosted embedding models for deployments that prefer them to the packaged MiniLM:
OpenAI (`openai/text-embedding-3-small`, `-large`) and Amazon Bedrock
(`bedrock/amazon.titan-embed-text-v2:0`, `bedrock/cohere.embed-multilingual-v3`). All
read Korean. Chunks are still budgeted with MiniLM's tokenizer (it ships with the
package and the Lambda layer); every model here reads far more than a chunk's 200 tokens.

Errors become EmbeddingServiceError with our own words: status codes, never a key or the
provider's error text.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from ..errors import ConfigurationError, EmbeddingServiceError
from .base import normalize_rows

OPENAI_MODELS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072}
BEDROCK_MODELS = {"amazon.titan-embed-text-v2:0": 1024, "cohere.embed-multilingual-v3": 1024}


class TokenCounter:
    """MiniLM's WordPiece tokenizer, only to size chunks."""

    def __init__(self, tokenizer_path: str) -> None:
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(tokenizer_path)
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()

    def __call__(self, texts: Sequence[str]) -> list[int]:
        return [len(e.ids) for e in self._tokenizer.encode_batch(list(texts), add_special_tokens=False)]


class _RemoteEmbedder:
    multilingual = True
    max_tokens = 8000  # both providers read ~8k tokens; chunks are far shorter

    def __init__(self, name: str, dimension: int, counter: Callable[[Sequence[str]], list[int]]) -> None:
        self.name, self.dimension, self._counter = name, dimension, counter

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self._counter(texts)

    def warm_up(self) -> None:
        pass  # a hosted model: nothing to load here

    def embed_query(self, text: str) -> np.ndarray:
        return self._embed([text], query=True)[0]

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self._embed(list(texts), query=False)

    def _embed(self, texts: list[str], *, query: bool) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError


class OpenAIEmbedder(_RemoteEmbedder):
    def __init__(self, model: str, *, api_key: str | None, base_url: str | None, timeout: float,
                 max_retries: int, counter: Callable[[Sequence[str]], list[int]], batch_size: int = 64) -> None:
        if model not in OPENAI_MODELS:
            raise ConfigurationError(f"unknown OpenAI embedding model {model!r}; available: {', '.join(OPENAI_MODELS)}")
        super().__init__(f"openai/{model}", OPENAI_MODELS[model], counter)
        from openai import OpenAI, OpenAIError

        self.model = model
        self._batch = batch_size
        try:
            self._client = OpenAI(api_key=api_key, base_url=base_url, timeout=timeout, max_retries=max_retries)
        except OpenAIError:
            raise ConfigurationError(
                f"EMBEDDING_MODEL_NAME={self.name} needs an OpenAI API key (OPENAI_API_KEY, or SSM on AWS)") from None

    def _embed(self, texts: list[str], *, query: bool) -> np.ndarray:
        import openai

        rows: list[list[float]] = []
        for start in range(0, len(texts), self._batch):
            try:
                response = self._client.embeddings.create(model=self.model, input=texts[start:start + self._batch])
            except openai.APIStatusError as exc:
                raise EmbeddingServiceError(f"the OpenAI embedding service answered {exc.status_code}") from None
            except openai.OpenAIError as exc:
                raise EmbeddingServiceError(f"the OpenAI embedding service failed ({type(exc).__name__})") from None
            rows += [item.embedding for item in sorted(response.data, key=lambda d: d.index)]
        return normalize_rows(np.asarray(rows, dtype=np.float32))


class BedrockEmbedder(_RemoteEmbedder):
    """Titan Text Embeddings v2 (one text a call, called in parallel) or Cohere Embed
    Multilingual v3 (96 texts a call, with its document/query input types)."""

    def __init__(self, model: str, *, region: str | None, timeout: float, max_retries: int,
                 counter: Callable[[Sequence[str]], list[int]], client: Any = None, workers: int = 8) -> None:
        if model not in BEDROCK_MODELS:
            raise ConfigurationError(f"unknown Bedrock embedding model {model!r}; available: {', '.join(BEDROCK_MODELS)}")
        super().__init__(f"bedrock/{model}", BEDROCK_MODELS[model], counter)
        self.model = model
        self._workers = workers
        if client is None:
            import boto3
            from botocore.config import Config

            client = boto3.client("bedrock-runtime", region_name=region, config=Config(
                connect_timeout=5, read_timeout=timeout, max_pool_connections=workers,
                retries={"mode": "standard", "max_attempts": max_retries + 1}))
        self._client = client

    def _embed(self, texts: list[str], *, query: bool) -> np.ndarray:
        if self.model.startswith("cohere."):
            kind = "search_query" if query else "search_document"
            rows = []
            for start in range(0, len(texts), 96):
                body = {"texts": texts[start:start + 96], "input_type": kind, "truncate": "END"}
                rows += self._invoke(body)["embeddings"]
        else:
            def one(text: str) -> list[float]:
                return self._invoke({"inputText": text, "dimensions": self.dimension, "normalize": True})["embedding"]

            if len(texts) == 1:
                rows = [one(texts[0])]
            else:
                with ThreadPoolExecutor(self._workers) as pool:
                    rows = list(pool.map(one, texts))
        return normalize_rows(np.asarray(rows, dtype=np.float32))

    def _invoke(self, body: dict[str, Any]) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = self._client.invoke_model(modelId=self.model, body=json.dumps(body).encode("utf-8"),
                                                 contentType="application/json", accept="application/json")
            return json.loads(response["body"].read())
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "an error")
            raise EmbeddingServiceError(f"Bedrock embedding ({self.model}) answered {code}") from None
        except BotoCoreError as exc:
            raise EmbeddingServiceError(f"could not reach Bedrock ({type(exc).__name__})") from None
