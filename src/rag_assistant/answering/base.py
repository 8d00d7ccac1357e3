"""The answer-generator seam: the extractive answerer and the LLM answerer behind one door."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ..models import SearchHit
from ..text.language import is_korean

NO_ANSWER_EN = "The documents do not contain an answer to this question."
NO_ANSWER_KO = "문서에서 이 질문에 대한 답을 찾을 수 없습니다."


@dataclass(frozen=True, slots=True)
class GeneratedAnswer:
    text: str
    answered: bool
    #: source number (1-based index into the hits) -> the text quoted from it
    quotes: dict[int, str]
    #: the source numbers the text cites, in order of first use
    cited: tuple[int, ...] = ()
    #: answered, and every [n] points at a real source (and at least one does)
    grounded: bool = False
    #: who answered when it is not the configured generator (a fallback), else None
    generator: str | None = None
    #: for the user: why the answer is not what they configured (provider failed, no key)
    notice: str | None = None
    usage: dict[str, float] = field(default_factory=dict)


class AnswerGenerator(Protocol):
    name: str
    #: True when generate_stream yields the text piece by piece as it is written (an LLM)
    streams_text: bool

    def warm_up(self) -> None:
        """Load now what the first answer would (a model), not during a user's question."""
        ...

    def generate(self, question: str, hits: Sequence[SearchHit]) -> GeneratedAnswer:
        """Answer from `hits` only, citing them as [1]..[n] in the order given."""
        ...

    def generate_stream(self, question: str, hits: Sequence[SearchHit]) -> Iterator[str | GeneratedAnswer]:
        """Text pieces as they are generated, then the GeneratedAnswer (whole, cleaned)."""
        ...


def no_answer_text(question: str) -> str:
    return NO_ANSWER_KO if is_korean(question) else NO_ANSWER_EN
