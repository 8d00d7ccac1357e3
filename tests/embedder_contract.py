"""What every Embedder owes the rest of the assistant. A backend's tests subclass
EmbedderContract and provide the `embedder` fixture; a new model passes this suite first."""

from __future__ import annotations

import numpy as np
import pytest

from rag_assistant.embedding.base import Embedder

TEXTS = [
    "How does zero trust handle network location?",
    "Zero trust grants no implicit trust based on network location.",
    "The recipe needs two cups of flour and an egg.",
    "제로 트러스트는 네트워크 위치만으로 신뢰하지 않는다.",
    "short",
]


class EmbedderContract:
    #: Least cosine between a text's vector in a batch and alone. Exact models give ~1.0.
    batch_agreement = 0.999

    @pytest.fixture()
    def embedder(self) -> Embedder:  # pragma: no cover - each backend overrides it
        raise NotImplementedError

    def test_is_an_embedder_with_its_facts(self, embedder) -> None:
        assert isinstance(embedder, Embedder)
        assert embedder.name and embedder.dimension > 0 and embedder.max_tokens > 0

    def test_rows_are_unit_float32_in_input_order(self, embedder) -> None:
        together = embedder.embed_documents(TEXTS)
        assert together.shape == (len(TEXTS), embedder.dimension) and together.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-4)
        alone = np.stack([embedder.embed_query(t) for t in TEXTS])
        # Batching pads differently; the vectors must not move beyond the model's agreement.
        assert (np.sum(together * alone, axis=1) > self.batch_agreement).all()
        reversed_rows = embedder.embed_documents(TEXTS[::-1])[::-1]
        assert (np.sum(together * reversed_rows, axis=1) > self.batch_agreement).all()

    def test_no_texts_no_rows(self, embedder) -> None:
        assert embedder.embed_documents([]).shape == (0, embedder.dimension)

    def test_related_texts_are_closer_than_unrelated_ones(self, embedder) -> None:
        question, related, unrelated = embedder.embed_documents(TEXTS[:3])
        assert question @ related > question @ unrelated + 0.2

    def test_token_counts_exclude_special_tokens_and_grow_with_text(self, embedder) -> None:
        empty, one, many = embedder.count_tokens(["", "trust", "trust " * 40])
        assert empty == 0 and 1 <= one < many

    def test_input_longer_than_the_model_reads_is_still_embedded(self, embedder) -> None:
        long_text = "zero trust architecture policy engine " * (embedder.max_tokens // 2 + 50)
        vector = embedder.embed_query(long_text)
        assert vector.shape == (embedder.dimension,) and abs(float(np.linalg.norm(vector)) - 1.0) < 1e-4

    def test_warm_up_is_idempotent_and_changes_nothing(self, embedder) -> None:
        before = embedder.embed_query(TEXTS[0])
        embedder.warm_up()
        embedder.warm_up()
        assert float(before @ embedder.embed_query(TEXTS[0])) > 0.9999
