"""What every AnswerGenerator owes the service and its users. A generator's tests subclass
AnswerGeneratorContract and provide the `answerer` fixture (answering from HITS)."""

from __future__ import annotations

import re

import pytest

from rag_assistant.answering.base import NO_ANSWER_EN, NO_ANSWER_KO, AnswerGenerator, GeneratedAnswer
from rag_assistant.models import Chunk, SearchHit


def hit(n: int, text: str, file_name: str = "guide.pdf", page: int | None = 3) -> SearchHit:
    return SearchHit(Chunk(f"doc_{n}:v1:{n:05d}", f"doc_{n}", n, text, page=page), file_name, 0.9 - n / 10)


HITS = [
    hit(1, "Zero trust assumes there is no implicit trust granted to assets based on their network location. "
           "It is a response to remote users and cloud-based assets."),
    hit(2, "Access to resources is granted per session, after authentication and authorization of the subject."),
]
QUESTION = "Is trust granted based on network location in zero trust?"
_CITATION = re.compile(r"\[(\d+)\]")


class AnswerGeneratorContract:
    @pytest.fixture()
    def answerer(self) -> AnswerGenerator:  # pragma: no cover - each generator overrides it
        raise NotImplementedError

    def test_names_itself_and_how_it_streams(self, answerer) -> None:
        assert answerer.name and isinstance(answerer.streams_text, bool)

    def test_without_sources_it_says_so_in_the_question_language(self, answerer) -> None:
        english = answerer.generate("What is the refund policy?", [])
        korean = answerer.generate("환불 정책은 무엇입니까?", [])
        assert (english.answered, english.text, english.grounded) == (False, NO_ANSWER_EN, False)
        assert (korean.answered, korean.text) == (False, NO_ANSWER_KO)

    def test_an_answer_cites_only_sources_it_was_given(self, answerer) -> None:
        answer = answerer.generate(QUESTION, HITS)
        assert answer.answered and answer.text
        numbers = {int(n) for n in _CITATION.findall(answer.text)}
        assert numbers and numbers <= {1, 2}
        assert set(answer.cited) <= {1, 2} and set(answer.quotes) <= {1, 2}
        assert answer.grounded

    def test_the_stream_ends_with_the_answer_it_streamed(self, answerer) -> None:
        events = list(answerer.generate_stream(QUESTION, HITS))
        *pieces, final = events
        assert isinstance(final, GeneratedAnswer) and all(isinstance(p, str) for p in pieces)
        assert pieces and final.answered
        assert "".join(pieces).strip() == final.text.strip()
        assert final.text == answerer.generate(QUESTION, HITS).text
