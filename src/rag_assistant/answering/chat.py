"""The chat-model seam under the LLM answerer: one system + one user message in, text out
(whole, or as it is generated), with token usage. Providers raise ProviderError with a
message that is safe to show: never a key, never the provider's own error text (OpenAI's
401 body echoes part of the key)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class TokenUsage:
    input_tokens: int
    output_tokens: int


@dataclass(frozen=True, slots=True)
class ChatReply:
    text: str
    usage: TokenUsage | None = None


class ProviderError(RuntimeError):
    """kind: auth | rate_limit | timeout | unavailable | bad_request | not_configured."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class ChatModel(Protocol):
    provider: str
    model: str

    def complete(self, system: str, user: str) -> ChatReply: ...

    def stream(self, system: str, user: str) -> Iterator[str | ChatReply]:
        """Text pieces as they arrive, then one ChatReply with the whole text and usage."""
        ...


#: US$ per million input / output tokens (list prices, 2026), by model-id prefix. Only for
#: the estimate in the logs; LLM_PRICE_PER_MTOK overrides it.
PRICES_PER_MTOK: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-5-nano": (0.05, 0.40),
    "gpt-5-mini": (0.25, 2.00),
    "amazon.nova-micro": (0.035, 0.14),
    "amazon.nova-lite": (0.06, 0.24),
    "amazon.nova-pro": (0.80, 3.20),
    "anthropic.claude-3-haiku": (0.25, 1.25),
    "anthropic.claude-3-5-haiku": (0.80, 4.00),
}


def estimated_cost(model: str, usage: TokenUsage, override: str | None = None) -> float | None:
    if override:
        try:
            prices = tuple(float(p) for p in override.split(","))
            input_price, output_price = prices
        except ValueError:
            return None
    else:
        bare = model.split("/")[-1]
        for region_prefix in ("us.", "eu.", "apac.", "global."):
            bare = bare.removeprefix(region_prefix)
        match = max((p for p in PRICES_PER_MTOK if bare.startswith(p)), key=len, default=None)
        if match is None:
            return None
        input_price, output_price = PRICES_PER_MTOK[match]
    return (usage.input_tokens * input_price + usage.output_tokens * output_price) / 1_000_000
