"""Powertools Logger and Metrics for the Lambda functions.

Our modules log through the standard `logging` module ("rag_assistant.*"); the Powertools
JSON handler is put on their common parent, so every line is one JSON object with the Lambda
context (function_request_id, cold_start) and our `extra=` fields (document_id, outcome,
reason, ...), whichever of our modules a function happens to import first.
"""

from __future__ import annotations

import logging

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

from ..observability import quiet_sdk_loggers

SERVICE = "rag-assistant"
NAMESPACE = "RagAssistant"
PACKAGE_LOGGER = "rag_assistant"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
# Powertools configures only top-level loggers that exist already. Made here, the parent
# exists even in a function that has created no logger of ours yet (the upload function
# imports this module first); loggers created later propagate to it.
logging.getLogger(PACKAGE_LOGGER)
copy_config_to_registered_loggers(source_logger=logger, include={PACKAGE_LOGGER})
quiet_sdk_loggers()
