"""API keys for the LLM providers, never from code, never into logs.

Order: the environment (OPENAI_API_KEY) > SSM Parameter Store SecureString
(OPENAI_API_KEY_PARAMETER, default /rag/openai-api-key) > Secrets Manager
(OPENAI_API_KEY_SECRET_ID). Powertools Parameters caches each value for
RAG_SECRETS_CACHE_SECONDS, so a warm Lambda does not call SSM per request.
"""

from __future__ import annotations

import logging

from pydantic import SecretStr

from ..config import Settings

log = logging.getLogger("rag_assistant.aws.secrets")


def openai_api_key(settings: Settings) -> SecretStr | None:
    if settings.openai_api_key is not None and settings.openai_api_key.get_secret_value():
        return settings.openai_api_key
    from aws_lambda_powertools.utilities import parameters
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    try:
        value = parameters.get_parameter(
            settings.openai_api_key_parameter, decrypt=True, max_age=settings.secrets_cache_seconds
        )
        if value:
            return SecretStr(value)
    except GetParameterError as exc:
        # The message names the parameter, never a value.
        log.info("no OpenAI key in SSM parameter %s (%s)", settings.openai_api_key_parameter, type(exc.__cause__).__name__)
    if settings.openai_api_key_secret_id:
        try:
            value = parameters.get_secret(settings.openai_api_key_secret_id, max_age=settings.secrets_cache_seconds)
            if value:
                return SecretStr(str(value))
        except GetParameterError as exc:
            log.warning("could not read secret %s (%s)", settings.openai_api_key_secret_id, type(exc.__cause__).__name__)
    return None
