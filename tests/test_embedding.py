import json

import numpy as np
import pytest
from conftest import FIXTURES
from embedder_contract import EmbedderContract

from rag_assistant.embedding.base import Embedder
from rag_assistant.embedding.registry import canonical_model_name, create_embedder
from rag_assistant.errors import ConfigurationError


def test_vectors_agree_with_sentence_transformers_reference(minilm) -> None:
    # The fixture was produced by sentence-transformers itself
    # (scripts/make_reference_embeddings.py); we run the same weights without torch.
    reference = json.loads((FIXTURES / "minilm_reference.json").read_text())
    ours = minilm.embed_documents(reference["texts"])
    expected = np.array(reference["vectors"], dtype=np.float32)
    cosines = (ours * expected).sum(axis=1) / np.linalg.norm(expected, axis=1)
    assert cosines.min() >= 0.99, dict(zip(reference["texts"], cosines.round(5), strict=True))


def test_the_local_default_is_the_int8_model_and_agrees_with_the_reference(minilm, model_cache) -> None:
    from rag_assistant.config import Settings
    from rag_assistant.embedding.registry import create_embedder

    assert Settings().embedding_precision == "int8"
    int8 = create_embedder("sentence-transformers/all-MiniLM-L6-v2", cache_dir=model_cache)
    reference = json.loads((FIXTURES / "minilm_reference.json").read_text())
    ours = int8.embed_documents(reference["texts"])
    assert int8.name == minilm.name  # one model: an index built with either is searched by the other
    built = sorted(p.name for p in (model_cache / "models").glob("*.onnx"))
    assert any(name.endswith("-int8.onnx") for name in built), built
    to_fp32 = (ours * minilm.embed_documents(reference["texts"])).sum(axis=1)
    expected = np.array(reference["vectors"], dtype=np.float32)
    to_reference = (ours * expected).sum(axis=1) / np.linalg.norm(expected, axis=1)
    # Measured on SciFact passages: median 0.994, minimum 0.987 (docs/BENCHMARKS.md).
    assert np.median(to_fp32) >= 0.985 and to_fp32.min() >= 0.975
    assert to_reference.min() >= 0.975


class TestHashingEmbedder(EmbedderContract):
    """The deterministic fake of the unit tests keeps the contract too."""

    @pytest.fixture()
    def embedder(self, hashing_embedder):
        return hashing_embedder


class TestMiniLM(EmbedderContract):
    @pytest.fixture()
    def embedder(self, minilm):
        return minilm


class TestLocalInt8MiniLM(EmbedderContract):
    """The local default (RAG_EMBEDDING_PRECISION=int8): the same quantization as the export."""

    batch_agreement = 0.97

    @pytest.fixture()
    def embedder(self, model_cache):
        return create_embedder("all-MiniLM-L6-v2", cache_dir=model_cache)


@pytest.mark.slow
class TestExportedInt8MiniLM(EmbedderContract):
    """The int8 folder `rag export-model` writes (what the Lambda layer ships).

    Dynamic quantization scales activations per batch tensor, so a text's vector depends a
    little on its batch-mates and padding: measured cosine 0.976-0.993 against the text
    embedded alone (fp32 vs int8 agree to ~0.99 the same way)."""

    batch_agreement = 0.97

    @pytest.fixture(scope="class")
    def embedder(self, tmp_path_factory):
        from rag_assistant.embedding.export import export_minilm

        folder = tmp_path_factory.mktemp("int8")
        export_minilm(folder)
        return create_embedder("all-MiniLM-L6-v2", cache_dir=folder, model_dir=folder)


@pytest.mark.slow
class TestUseMultilingual(EmbedderContract):
    @pytest.fixture(scope="class")
    def embedder(self, tmp_path_factory):
        return create_embedder("use-multilingual", cache_dir=tmp_path_factory.mktemp("use"))


def test_minilm_sees_words_as_its_tokenizer_does(minilm) -> None:
    assert minilm.count_tokens(["hello world", ""]) == [2, 0]
    assert minilm.dimension == 384


def test_minilm_is_an_embedder(minilm) -> None:
    assert isinstance(minilm, Embedder)
    assert minilm.name == "sentence-transformers/all-MiniLM-L6-v2" and minilm.dimension == 384


def test_model_names_resolve_and_unknown_names_fail_clearly(tmp_path) -> None:
    assert canonical_model_name("all-MiniLM-L6-v2") == "sentence-transformers/all-MiniLM-L6-v2"
    with pytest.raises(ConfigurationError, match="unknown EMBEDDING_MODEL_NAME"):
        create_embedder("acme/embedder-9000", cache_dir=tmp_path)


def test_the_runtime_never_imports_torch(minilm) -> None:
    import sys

    minilm.embed_query("warm")
    assert "torch" not in sys.modules and "sentence_transformers" not in sys.modules


@pytest.mark.slow
def test_multilingual_use_reads_korean_and_crosses_languages(tmp_path) -> None:
    embedder = create_embedder("use-multilingual", cache_dir=tmp_path)
    assert isinstance(embedder, Embedder) and embedder.dimension == 512 and embedder.multilingual
    question_ko, doc_ko, doc_en, other = embedder.embed_documents([
        "제로 트러스트는 네트워크 위치를 신뢰하나요?",
        "제로 트러스트는 네트워크 위치만으로 신뢰하지 않는 보안 모델이다.",
        "Zero trust grants no implicit trust based on network location.",
        "빵을 구우려면 밀가루와 물이 필요하다.",
    ])
    np.testing.assert_allclose(np.linalg.norm([question_ko, doc_en], axis=1), [1.0, 1.0], atol=1e-5)
    assert question_ko @ doc_ko > question_ko @ other + 0.1
    assert doc_ko @ doc_en > 0.5  # the same statement in two languages
    assert embedder.count_tokens(["제로 트러스트", ""])[1] == 0
