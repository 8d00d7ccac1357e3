"""Powertools Logger and Metrics for the Lambda functions.

Our modules log through the standard `logging` module ("rag_assistant.*"); the Powertools
JSON formatter is copied onto them, so every line is one JSON object with the Lambda
context (request id, cold start) and our `extra=` fields (document_id, ...).
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

from ..observability import quiet_sdk_loggers

SERVICE = "rag-assistant"
NAMESPACE = "RagAssistant"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
copy_config_to_registered_loggers(source_logger=logger, include={"rag_assistant"})
quiet_sdk_loggers()
