"""API Gateway (REST, proxy integration) plumbing shared by the query and documents
functions: JSON bodies, CORS from CORS_ALLOWED_ORIGINS, and the API's error shape."""

from __future__ import annotations

import json
import logging
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError

from ..api.errors import describe_validation_errors, error_body
from ..errors import (
    ConfigurationError,
    DocumentNotFoundError,
    EmbeddingServiceError,
    ModelMismatchError,
    RagError,
)

log = logging.getLogger("rag_assistant.aws.api")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


def error(status: int, code: str, message: str, details: list[dict[str, str]] | None = None) -> Response:
    return Response(status_code=status, content_type="application/json",
                    body=json.dumps(error_body(code, message, details), ensure_ascii=False))


def create_resolver(origins: list[str]) -> APIGatewayRestResolver:
    cors = CORSConfig(
        allow_origin=origins[0], extra_origins=origins[1:],
        allow_headers=["Content-Type", "Authorization", "X-Api-Key"], max_age=600,
    )
    app = APIGatewayRestResolver(cors=cors)

    @app.exception_handler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        log.info("request refused", extra={"status": exc.status, "outcome": "refused", "reason": exc.code})
        return error(exc.status, exc.code, exc.message, exc.details)

    @app.exception_handler(DocumentNotFoundError)
    def _missing(exc: DocumentNotFoundError) -> Response:
        log.info("request refused", extra={"status": 404, "outcome": "refused", "reason": exc.code})
        return error(404, exc.code, str(exc))

    @app.exception_handler(RagError)
    def _rag(exc: RagError) -> Response:
        if isinstance(exc, ConfigurationError | ModelMismatchError | EmbeddingServiceError):
            log.error("configuration problem: %s", exc)
            return error(503, exc.code, str(exc))
        return error(400, exc.code, str(exc))

    @app.not_found
    def _not_found(exc: NotFoundError) -> Response:
        event = app.current_event
        return error(404, "not_found", f"no route {event.http_method} {event.path}")

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error")
        return error(500, "internal_error", "unexpected server error; the function log has the details")

    return app


def json_body(app: APIGatewayRestResolver, model: Any) -> Any:
    """Parse and validate the request body with a pydantic model, or raise ApiError 400/422."""
    from pydantic import ValidationError

    raw = app.current_event.body
    if app.current_event.is_base64_encoded and raw:
        import base64

        raw = base64.b64decode(raw).decode("utf-8", errors="replace")
    try:
        data = json.loads(raw) if raw else None
    except json.JSONDecodeError:
        raise ApiError(400, "invalid_json", "the request body is not valid JSON") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        summary, details = describe_validation_errors(exc.errors())
        raise ApiError(422, "validation_error", summary, details) from None


def lambda_entry(build: Any, metric: str) -> Any:
    """The Lambda handler of an API function: the router is built on the first invocation
    (its CORS origins come from the settings), and every invocation counts in `metric`."""
    from aws_lambda_powertools.metrics import MetricUnit

    from .observability import logger, metrics

    resolver: list[APIGatewayRestResolver] = []

    @logger.inject_lambda_context(log_event=False, correlation_id_path="requestContext.requestId")
    @metrics.log_metrics
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        metrics.add_metric(metric, MetricUnit.Count, 1)
        if not resolver:
            resolver.append(build())
        return resolver[0].resolve(event, context)

    handler.reset = resolver.clear  # type: ignore[attr-defined]  # tests switch settings
    return handler
