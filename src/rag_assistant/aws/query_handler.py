"""rag-query-handler: POST /rag/query and GET /rag/config behind API Gateway.

/rag/config is served here, from the same RagService.describe() as the local server, so it
names the generator that really answers (extractive when the LLM has no key); the page asks
for it first, which also warms this function before the first question.
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from ..api import contract
from ..api.contract import CorsPolicy
from ..api.schemas import QueryRequest
from . import runtime, snapstart
from .api import LambdaApi, create_resolver, json_body, lambda_entry
from .observability import logger, metrics


def _build() -> LambdaApi:
    """The adapter, made on the first invocation: CORS origins come from the settings."""
    settings = runtime.settings()
    resolver = create_resolver()

    @resolver.get("/rag/config")
    def config() -> dict[str, Any]:
        return contract.config_payload(runtime.answering_service().describe(), upload_mode="presigned",
                                       auth_scope=settings.auth_scope)

    @resolver.post("/rag/query")
    def query() -> dict[str, Any]:
        request = json_body(resolver, QueryRequest)
        started = time.perf_counter()
        answer = runtime.answering_service().ask(request.question, request.top_k)
        metrics.add_metric("QueryLatency", MetricUnit.Milliseconds, (time.perf_counter() - started) * 1000)
        metrics.add_metric("QueryAnswered", MetricUnit.Count, int(answer.answered))
        # Never the question itself: it may hold what the documents are about.
        logger.info("question answered", extra={
            "answered": answer.answered, "latency_ms": round((time.perf_counter() - started) * 1000, 1),
            "sources": len(answer.citations), "generator": answer.generator,
            "question_chars": len(request.question)})
        return answer.to_dict()

    return LambdaApi(resolver, CorsPolicy.from_list(settings.cors_origins))


handler = lambda_entry(_build, "QueryRequests")
snapstart.register(snapstart.before_query_snapshot)
