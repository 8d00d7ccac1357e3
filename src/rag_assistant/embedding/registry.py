"""EMBEDDING_MODEL_NAME -> an Embedder. Names are matched without the hub organisation."""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigurationError
from . import minilm
from .base import Embedder

MINILM = minilm.NAME
USE_MULTILINGUAL = "google/universal-sentence-encoder-multilingual-3"
_ALIASES = {
    "all-minilm-l6-v2": MINILM,
    "use-multilingual": USE_MULTILINGUAL,
    "universal-sentence-encoder-multilingual-3": USE_MULTILINGUAL,
}


def canonical_model_name(name: str) -> str:
    key = name.strip().lower().rsplit("/", 1)[-1]
    try:
        return _ALIASES[key]
    except KeyError:
        known = ", ".join(sorted({MINILM, USE_MULTILINGUAL, "use-multilingual"}) + [
            "openai/text-embedding-3-small", "openai/text-embedding-3-large",
            "bedrock/amazon.titan-embed-text-v2:0", "bedrock/cohere.embed-multilingual-v3"])
        raise ConfigurationError(
            f"unknown EMBEDDING_MODEL_NAME {name!r}; available: {known}"
        ) from None


def create_embedder(
    name: str, *, cache_dir: Path, batch_size: int = 32, threads: int = 0, model_dir: Path | None = None,
    openai_api_key: str | None = None, bedrock_region: str | None = None, timeout: float = 30.0,
    max_retries: int = 2, precision: str = "int8",
) -> Embedder:
    if name.startswith("test/hashing"):
        from .hashing import HashingEmbedder

        return HashingEmbedder()
    provider, _, model = name.strip().partition("/")
    if provider in ("openai", "bedrock") and model:
        from .remote import BedrockEmbedder, OpenAIEmbedder, TokenCounter

        tokenizer = (model_dir or minilm.model_dir()) / "tokenizer.json"
        counter = TokenCounter(str(tokenizer))
        if provider == "openai":
            return OpenAIEmbedder(model, api_key=openai_api_key, base_url=None, timeout=timeout,
                                  max_retries=max_retries, counter=counter)
        return BedrockEmbedder(model, region=bedrock_region, timeout=timeout, max_retries=max_retries,
                               counter=counter)
    canonical = canonical_model_name(name)
    if model_dir is not None:
        return _exported(model_dir, canonical, batch_size, threads)
    if canonical == MINILM:
        return _minilm(cache_dir, batch_size, threads, precision)
    if canonical == USE_MULTILINGUAL:
        from .use_multilingual import UseMultilingualEmbedder

        return UseMultilingualEmbedder(batch_size=batch_size, threads=threads)
    raise ConfigurationError(f"no backend for embedding model {canonical!r}")


def _minilm(cache_dir: Path, batch_size: int, threads: int, precision: str = "int8") -> Embedder:
    """MiniLM built once into the cache from the model package: fp32, or (the default) the
    same int8 quantization the Lambda layer ships — 1.8x faster at nDCG@10 x0.996
    (docs/BENCHMARKS.md). Both keep the model's name: their vectors agree to cosine ~0.99,
    so an index built with one is searched correctly with the other."""
    from .onnx_graph import GRAPH_VERSION, build_bert_onnx
    from .onnx_sentence import OnnxSentenceEmbedder

    if precision not in ("int8", "fp32"):
        raise ConfigurationError(f"RAG_EMBEDDING_PRECISION must be int8 or fp32, not {precision!r}")
    model_dir = minilm.model_dir()
    built = cache_dir / "models" / f"all-MiniLM-L6-v2-{minilm.package_version()}-g{GRAPH_VERSION}.onnx"
    quantized = built.with_name(built.stem + "-int8.onnx")

    def model_path() -> Path:
        if not built.exists():
            build_bert_onnx(model_dir, built)
        if precision == "fp32":
            return built
        if not quantized.exists():
            import os

            from .export import quantize_int8

            scratch = quantized.with_name(f"{quantized.name}.{os.getpid()}.tmp")
            quantize_int8(built, scratch)
            os.replace(scratch, quantized)  # another process may be quantizing too
        return quantized

    return OnnxSentenceEmbedder(
        name=minilm.NAME,
        dimension=minilm.DIMENSION,
        tokenizer_path=model_dir / "tokenizer.json",
        model_path_factory=model_path,
        max_tokens=minilm.MAX_TOKENS,
        batch_size=batch_size,
        threads=threads,
    )


def _exported(model_dir: Path, canonical: str, batch_size: int, threads: int) -> Embedder:
    """A model folder written by embedding.export (what the Lambda functions ship)."""
    from .export import ExportedModel
    from .onnx_sentence import OnnxSentenceEmbedder

    exported = ExportedModel.read(model_dir)
    if exported.name != canonical:
        raise ConfigurationError(
            f"RAG_EMBEDDING_MODEL_DIR holds {exported.name}, but EMBEDDING_MODEL_NAME is {canonical}"
        )
    # The int8 export keeps the model's name: its vectors agree with fp32 to cosine ~0.99,
    # so a store indexed by one is searched correctly by the other.
    return OnnxSentenceEmbedder(
        name=exported.name,
        dimension=exported.dimension,
        tokenizer_path=model_dir / "tokenizer.json",
        model_path_factory=lambda: model_dir / "model.onnx",
        max_tokens=exported.max_tokens,
        batch_size=batch_size,
        threads=threads,
    )
