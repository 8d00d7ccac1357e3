"""read_squad: a SQuAD-format file (v1.1, v2.0, KorQuAD) as corpus, queries, judgements and answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag_assistant.evaluation.squad import article_of, read_squad

SQUAD = {
    "version": "v2.0",
    "data": [
        {"title": "Zero_Trust", "paragraphs": [
            {"context": "Zero trust assumes no implicit trust.", "qas": [
                {"id": "a", "question": "What does zero trust assume?",
                 "answers": [{"text": "no implicit trust", "answer_start": 19},
                             {"text": "no implicit trust", "answer_start": 19}]},
                {"id": "b", "question": "Who invented zero trust?", "answers": [], "is_impossible": True},
            ]},
            {"context": "제로 트러스트는 암묵적 신뢰를 가정하지 않는다.", "qas": [
                {"id": "c", "question": "제로 트러스트는 무엇을 가정하지 않나요?",
                 "answers": [{"text": "암묵적 신뢰", "answer_start": 9}]},
            ]},
        ]},
        {"title": "Backups", "paragraphs": [{"context": "Backups run nightly.", "qas": []}]},
    ],
}


def test_paragraphs_become_the_corpus_and_questions_the_judged_queries(tmp_path: Path) -> None:
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(SQUAD, ensure_ascii=False), encoding="utf-8")
    corpus, queries, qrels, answers = read_squad(path)
    assert [(d.doc_id, d.title) for d in corpus] == [("0-0", "Zero Trust"), ("0-1", "Zero Trust"), ("1-0", "Backups")]
    assert corpus[1].text.startswith("제로 트러스트는")
    assert queries == {"a": "What does zero trust assume?", "b": "Who invented zero trust?",
                       "c": "제로 트러스트는 무엇을 가정하지 않나요?"}
    # The impossible question is a query to abstain on: no judgement, no answer.
    assert qrels == {"a": {"0-0": 1}, "c": {"0-1": 1}}
    assert answers == {"a": ["no implicit trust"], "b": [], "c": ["암묵적 신뢰"]}
    assert [article_of(d.doc_id) for d in corpus] == [0, 0, 1]


@pytest.mark.parametrize("content, message", [
    ("{not json", "not JSON"),
    ('{"version": "x"}', "no 'data' list"),
    ('{"data": [{"paragraphs": [{"qas": []}]}]}', "has no context"),
])
def test_malformed_files_are_one_clear_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        read_squad(path)
