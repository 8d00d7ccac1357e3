"""OpenAI and OpenAI-compatible servers (Ollama, vLLM, llama.cpp, LM Studio) through the
official `openai` SDK. The SDK retries 429/5xx/timeouts with exponential backoff
(`max_retries`) and honours OPENAI_API_KEY and OPENAI_BASE_URL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

from .chat import ChatReply, ProviderError, TokenUsage


class OpenAIChat:
    def __init__(
        self,
        *,
        provider: str,
        model: str,
        api_key: str | None,
        base_url: str | None,
        temperature: float,
        max_tokens: int,
        timeout: float,
        max_retries: int,
    ) -> None:
        from openai import OpenAI

        self.provider = provider
        self.model = model
        self._temperature = temperature
        self._max_tokens = max_tokens
        # Local servers rarely check keys, but the SDK insists on one.
        key = api_key or (None if provider == "openai" else "not-needed")
        try:
            self._client = OpenAI(api_key=key, base_url=base_url, timeout=timeout, max_retries=max_retries)
        except Exception as exc:  # openai.OpenAIError: no key anywhere
            raise ProviderError("not_configured", f"{provider}: no API key (set OPENAI_API_KEY)") from exc

    def _request(self, system: str, user: str) -> dict[str, Any]:
        request: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
            "temperature": self._temperature,
        }
        # OpenAI's newer models take only max_completion_tokens; most compatible servers
        # know only max_tokens.
        request["max_completion_tokens" if self.provider == "openai" else "max_tokens"] = self._max_tokens
        return request

    def complete(self, system: str, user: str) -> ChatReply:
        with _translated_errors(self.provider):
            response = self._client.chat.completions.create(**self._request(system, user))
        text = (response.choices[0].message.content or "") if response.choices else ""
        return ChatReply(text, _usage(response.usage))

    def stream(self, system: str, user: str) -> Iterator[str | ChatReply]:
        pieces: list[str] = []
        usage = None
        with _translated_errors(self.provider):
            chunks = self._client.chat.completions.create(
                **self._request(system, user), stream=True, stream_options={"include_usage": True})
            for chunk in chunks:
                if chunk.usage is not None:
                    usage = _usage(chunk.usage)
                for choice in chunk.choices or ():
                    piece = choice.delta.content if choice.delta else None
                    if piece:
                        pieces.append(piece)
                        yield piece
        yield ChatReply("".join(pieces), usage)


def _usage(usage: Any) -> TokenUsage | None:
    if usage is None:
        return None
    return TokenUsage(int(usage.prompt_tokens or 0), int(usage.completion_tokens or 0))


class _translated_errors:
    """openai exceptions -> ProviderError with our own words (status codes, no bodies)."""

    def __init__(self, provider: str) -> None:
        self.provider = provider

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> Literal[False]:
        if exc is None:
            return False
        import openai

        name = self.provider
        if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
            raise ProviderError("auth", f"{name} rejected the API key ({exc.status_code})") from None
        if isinstance(exc, openai.RateLimitError):
            raise ProviderError("rate_limit", f"{name} is rate limiting requests (429) after retries") from None
        if isinstance(exc, openai.APITimeoutError):
            raise ProviderError("timeout", f"{name} did not answer in time") from None
        if isinstance(exc, openai.APIConnectionError):
            raise ProviderError("unavailable", f"could not connect to {name}") from None
        if isinstance(exc, openai.APIStatusError):
            kind = "unavailable" if exc.status_code >= 500 else "bad_request"
            raise ProviderError(kind, f"{name} answered with an error ({exc.status_code})") from None
        if isinstance(exc, openai.OpenAIError):
            raise ProviderError("unavailable", f"{name} failed ({type(exc).__name__})") from None
        return False
