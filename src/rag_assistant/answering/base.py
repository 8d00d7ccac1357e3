"""The answer-generator seam: the extractive answerer now, LLM providers behind the same door."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ..models import SearchHit

NO_ANSWER_EN = "The documents do not contain an answer to this question."
NO_ANSWER_KO = "문서에서 이 질문에 대한 답을 찾을 수 없습니다."


@dataclass(frozen=True, slots=True)
class GeneratedAnswer:
    text: str
    answered: bool
    #: source number (1-based index into the hits) -> the text quoted from it
    quotes: dict[int, str]


class AnswerGenerator(Protocol):
    name: str

    def generate(self, question: str, hits: Sequence[SearchHit]) -> GeneratedAnswer:
        """Answer from `hits` only, citing them as [1]..[n] in the order given."""
        ...


def is_korean(text: str) -> bool:
    hangul = sum(1 for ch in text if "\uac00" <= ch <= "\ud7a3")
    letters = sum(1 for ch in text if ch.isalpha())
    return letters > 0 and hangul / letters >= 0.3


def no_answer_text(question: str) -> str:
    return NO_ANSWER_KO if is_korean(question) else NO_ANSWER_EN
