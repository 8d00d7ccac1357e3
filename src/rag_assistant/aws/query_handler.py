"""rag-query-handler: POST /rag/query behind API Gateway."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from ..api.schemas import QueryRequest
from . import runtime
from .api import create_resolver, json_body, lambda_entry
from .observability import logger, metrics

def _build() -> Any:
    """The router, made on the first invocation: CORS origins come from the settings."""
    resolver = create_resolver(runtime.settings().cors_origins)

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

    return resolver


handler = lambda_entry(_build, "QueryRequests")
