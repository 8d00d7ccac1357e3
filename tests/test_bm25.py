"""The in-memory BM25: per-language k1/b and passage aggregation per document."""

from __future__ import annotations

import math

import pytest

from rag_assistant.text.bm25 import BM25Index, BM25Parameters


def okapi(tf: int, length: float, average: float, n: int, df: int, k1: float, b: float) -> float:
    idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
    return idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / average))


def test_scores_are_okapi_with_the_parameters_of_each_language() -> None:
    texts = ["zero trust network", "backup schedule nightly window", "제로 트러스트", "백업 일정"]
    parameters = BM25Parameters(k1=1.1, b=0.3, by_language={"ko": (0.5, 0.9)}, document_weight=0.0)
    index = BM25Index(texts, parameters=parameters)
    english = dict(index.search("trust", 10))
    # "trust" -> stem "trust": one English text of 3 terms; English lengths 3 and 4, average 3.5.
    assert english == {0: pytest.approx(okapi(1, 3, 3.5, 4, 1, 1.1, 0.3))}
    korean = dict(index.search("트러스트", 10))
    # 트러 러스 스트 #트러스트: "제로 트러스트" has 7 terms (제 #제 (로 is a particle), the four,
    # 로트 across the space), "백업 일정" 5 (백업 #백업 일정 #일정 업일): Korean average 6.
    expected = 4 * okapi(1, 7, 6.0, 4, 1, 0.5, 0.9)
    assert korean == {2: pytest.approx(expected)}


def test_a_passage_of_a_document_about_the_question_ranks_first() -> None:
    texts = [
        "the policy engine decides",          # doc A: also about trust algorithms elsewhere
        "trust algorithm inputs and weights",  # doc A
        "the policy engine decides",          # doc B: nothing else in common with the question
        "cafeteria opening hours",             # doc B
    ]
    groups = ["A", "A", "B", "B"]
    alone = BM25Index(texts, groups=groups, parameters=BM25Parameters(document_weight=0.0))
    together = BM25Index(texts, groups=groups)
    question = "policy engine trust algorithm"
    tied = dict(alone.search(question, 10))
    assert tied[0] == pytest.approx(tied[2])  # the same passage text scores the same alone
    ranked = together.search(question, 10)
    scores = dict(ranked)
    assert {row for row, _ in ranked[:2]} == {0, 1}
    assert scores[0] > scores[2]  # document A is about the whole question
    assert 3 not in scores  # a chunk sharing no term with the question is never returned


def test_ties_come_in_index_order_and_groups_must_match_texts() -> None:
    index = BM25Index(["alpha words", "alpha words", "other"], groups=["a", "b", "c"])
    assert [row for row, _ in index.search("alpha", 10)] == [0, 1]
    with pytest.raises(ValueError, match="one group per text"):
        BM25Index(["a", "b"], groups=["x"])
