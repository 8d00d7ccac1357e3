"""Amazon Bedrock through the Converse API (any model Converse supports; the model id or
inference profile and the region are settings). Retries: botocore's standard mode, which
backs off on throttling and 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .chat import ChatReply, ProviderError, TokenUsage

_KINDS = {
    "ThrottlingException": "rate_limit",
    "ServiceQuotaExceededException": "rate_limit",
    "AccessDeniedException": "auth",
    "UnrecognizedClientException": "auth",
    "ExpiredTokenException": "auth",
    "ValidationException": "bad_request",
    "ResourceNotFoundException": "bad_request",
    "ModelTimeoutException": "timeout",
    "ModelNotReadyException": "unavailable",
    "ServiceUnavailableException": "unavailable",
    "InternalServerException": "unavailable",
    "ModelErrorException": "unavailable",
}


class BedrockChat:
    provider = "bedrock"

    def __init__(
        self,
        *,
        model: str,
        region: str | None,
        temperature: float,
        max_tokens: int,
        timeout: float,
        max_retries: int,
        client: Any = None,
    ) -> None:
        self.model = model
        self._inference = {"maxTokens": max_tokens, "temperature": temperature}
        if client is None:
            import boto3
            from botocore.config import Config

            client = boto3.client("bedrock-runtime", region_name=region, config=Config(
                connect_timeout=5, read_timeout=timeout,
                retries={"mode": "standard", "max_attempts": max_retries + 1}))
        self._client = client

    def complete(self, system: str, user: str) -> ChatReply:
        from botocore.exceptions import BotoCoreError, ClientError, ReadTimeoutError

        try:
            response = self._client.converse(
                modelId=self.model,
                system=[{"text": system}],
                messages=[{"role": "user", "content": [{"text": user}]}],
                inferenceConfig=self._inference,
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
            raise ProviderError(_KINDS.get(code, "unavailable"), f"bedrock answered {code or 'an error'} ({status})") from None
        except ReadTimeoutError:
            raise ProviderError("timeout", "bedrock did not answer in time") from None
        except BotoCoreError as exc:
            raise ProviderError("unavailable", f"could not reach bedrock ({type(exc).__name__})") from None
        content = response.get("output", {}).get("message", {}).get("content", [])
        text = "".join(block.get("text", "") for block in content)
        usage = response.get("usage") or {}
        return ChatReply(text, TokenUsage(int(usage.get("inputTokens", 0)), int(usage.get("outputTokens", 0))))

    def stream(self, system: str, user: str) -> Iterator[str | ChatReply]:
        # Answers arrive whole: the Lambda API cannot stream, and one code path is one to test.
        reply = self.complete(system, user)
        if reply.text:
            yield reply.text
        yield reply
