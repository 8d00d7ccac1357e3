"""Every answer generator passes tests/answerer_contract.py: the extractive answerer (the
offline default, on the real model) and the LLM answerer (protocol test: the official
OpenAI SDK against tests/openai_wire.py)."""

from __future__ import annotations

import pytest

from answerer_contract import AnswerGeneratorContract
from openai_wire import Script, openai_wire_server


class TestExtractiveAnswerer(AnswerGeneratorContract):
    @pytest.fixture()
    def answerer(self, minilm):
        from rag_assistant.answering.extractive import ExtractiveAnswerer

        return ExtractiveAnswerer(minilm)


class TestOpenAIAnswererProtocolContract(AnswerGeneratorContract):
    @pytest.fixture()
    def answerer(self, hashing_embedder):
        from rag_assistant.answering.extractive import ExtractiveAnswerer
        from rag_assistant.answering.llm import LlmAnswerer
        from rag_assistant.answering.openai_chat import OpenAIChat

        script = Script(reply="No: zero trust grants no implicit trust based on network location [1].")
        with openai_wire_server(script) as url:
            chat = OpenAIChat(provider="openai", model="gpt-4o-mini", api_key="sk-test-not-real", base_url=url,
                              temperature=0.1, max_tokens=300, timeout=5.0, max_retries=0)
            yield LlmAnswerer(chat, ExtractiveAnswerer(hashing_embedder))
