"""Answers written by an LLM from the retrieved sources, with citations checked.

If the provider fails (bad key, rate limit after retries, timeout, outage) the question is
still answered — extractively, from the same sources — and the answer says so (`generator`
"extractive", a `notice` naming the cause). Token usage and the estimated cost of every
call are logged; the question and the sources are not.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from typing import Any

from ..models import SearchHit
from .base import AnswerGenerator, GeneratedAnswer, no_answer_text
from .chat import ChatModel, ChatReply, ProviderError, estimated_cost
from .citations import resolve_citations
from .prompt import build_prompt, is_no_answer

log = logging.getLogger("rag_assistant.answering.llm")


class LlmAnswerer:
    def __init__(self, chat: ChatModel, fallback: AnswerGenerator, *, price_override: str | None = None,
                 name: str | None = None, streams_text: bool = True) -> None:
        self.name = name or chat.provider
        self.streams_text = streams_text
        self.chat = chat
        self._fallback = fallback
        self._price_override = price_override

    def warm_up(self) -> None:
        self._fallback.warm_up()

    def generate(self, question: str, hits: Sequence[SearchHit]) -> GeneratedAnswer:
        answer = None
        for item in self._run(question, hits, stream=False):
            answer = item
        assert isinstance(answer, GeneratedAnswer)
        return answer

    def generate_stream(self, question: str, hits: Sequence[SearchHit]) -> Iterator[str | GeneratedAnswer]:
        return self._run(question, hits, stream=True)

    def _run(self, question: str, hits: Sequence[SearchHit], *, stream: bool) -> Iterator[str | GeneratedAnswer]:
        if not hits:  # nothing indexed matches: no need to pay for a call
            yield GeneratedAnswer(no_answer_text(question), answered=False, quotes={})
            return
        prompt = build_prompt(question, hits)
        started = time.perf_counter()
        reply: ChatReply | None = None
        streamed = False
        try:
            if stream:
                for piece in self.chat.stream(prompt.system, prompt.user):
                    if isinstance(piece, ChatReply):
                        reply = piece
                    else:
                        streamed = True
                        yield piece
            else:
                reply = self.chat.complete(prompt.system, prompt.user)
        except ProviderError as exc:
            log.warning("LLM call failed; answering extractively",
                        extra={"provider": self.name, "model": self.chat.model, "error_kind": exc.kind})
            fallback = self._fallback.generate(question, hits)
            notice = f"{exc} — answered extractively from the sources instead"
            if streamed:
                yield "\n\n"  # what was streamed stays on screen; the answer below replaces it
            yield _replace(fallback, generator=self._fallback.name, notice=notice)
            return
        assert reply is not None
        seconds = time.perf_counter() - started
        usage: dict[str, float] = {"seconds": round(seconds, 3)}
        if reply.usage is not None:
            usage |= {"input_tokens": reply.usage.input_tokens, "output_tokens": reply.usage.output_tokens}
            cost = estimated_cost(self.chat.model, reply.usage, self._price_override)
            if cost is not None:
                usage["estimated_cost_usd"] = round(cost, 6)
        log.info("LLM answer", extra={"provider": self.name, "model": self.chat.model, **usage})
        yield self._interpret(question, reply.text, len(hits), usage)

    def _interpret(self, question: str, text: str, source_count: int, usage: dict[str, float]) -> GeneratedAnswer:
        if not text.strip() or is_no_answer(text):
            return GeneratedAnswer(no_answer_text(question), answered=False, quotes={}, usage=usage)
        resolved = resolve_citations(text, source_count)
        if resolved.dropped:
            log.info("dropped citations to missing sources", extra={"dropped": list(resolved.dropped)})
        return GeneratedAnswer(
            resolved.text, answered=True, quotes={}, cited=resolved.cited,
            grounded=bool(resolved.cited) and not resolved.dropped, usage=usage,
        )


def _replace(answer: GeneratedAnswer, **changes: Any) -> GeneratedAnswer:
    from dataclasses import replace

    return replace(answer, **changes)
