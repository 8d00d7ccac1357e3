"""API Gateway (REST, proxy integration) -> the shared HTTP contract (api/contract.py), for
the query and documents functions: the same bodies, checks, errors, CORS and headers as the
local server. Powertools routes; everything it answers passes through here.

Authorization is API Gateway's (API keys, stack setting apiKey): a request that reaches a
function has passed it. Preflights are the gateway's too when origins are configured; the
functions answer them the same way if one arrives.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError

from ..api import contract
from ..api.contract import ApiError, CorsPolicy, PageSecurity, is_preflight
from ..api.routes import find_route, methods_at
from ..errors import RagError

log = logging.getLogger("rag_assistant.aws.api")


def refused(exc: ApiError) -> None:
    """One log line per refused request (never its body): status and the contract's code."""
    if exc.status < 500:
        log.info("request refused", extra={"status": exc.status, "outcome": "refused", "reason": exc.code})


def error(exc: ApiError) -> Response:
    refused(exc)
    return Response(status_code=exc.status, content_type="application/json", headers=exc.headers,
                    body=json.dumps(exc.body(), ensure_ascii=False))


def create_resolver() -> APIGatewayRestResolver:
    """A resolver whose every error is the contract's JSON (no Powertools CORS: ours)."""
    app = APIGatewayRestResolver()

    @app.exception_handler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return error(exc)

    @app.exception_handler(RagError)
    def _rag(exc: RagError) -> Response:
        mapped = contract.from_rag_error(exc)
        if mapped.status >= 500:
            log.error("configuration problem: %s", exc)
        return error(mapped)

    @app.not_found
    def _not_found(exc: NotFoundError) -> Response:
        event = app.current_event
        route = find_route(event.http_method, event.path, "aws")
        if route is not None:  # ours, but with a parameter the router's pattern refuses
            name = route.path.rsplit("{", 1)[-1].rstrip("}") if "{" in route.path else "path"
            return error(contract.invalid_path_parameter(name))
        if methods_at(event.path, "aws"):
            return error(contract.method_not_allowed(event.http_method, event.path))
        return error(contract.no_route(event.path))

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error")
        return error(ApiError("internal_error", contract.INTERNAL_ERROR))

    return app


def body_bytes(event: Any) -> bytes:
    """The raw body of a proxy event: base64 when API Gateway says so, else its text as UTF-8
    (lone surrogates, which no UTF-8 body can carry, make it invalid rather than crash)."""
    raw = event.body
    if not raw:
        return b""
    if event.is_base64_encoded:
        try:
            return base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise ApiError("invalid_json", "the request body is not valid base64") from None
    return raw.encode("utf-8", "surrogatepass")


def json_body(app: APIGatewayRestResolver, model: Any) -> Any:
    """The body validated by a pydantic model under the contract's rules, or ApiError."""
    raw = body_bytes(app.current_event)
    contract.check_length(len(raw), contract.MAX_JSON_BODY_BYTES)
    return contract.parse_body(model, raw)


@dataclass
class LambdaApi:
    resolver: APIGatewayRestResolver
    cors: CorsPolicy
    page: PageSecurity = field(default_factory=PageSecurity)


def _lower(headers: dict[str, Any] | None) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in (headers or {}).items()}


def respond(api: LambdaApi, event: dict[str, Any], context: Any) -> dict[str, Any]:
    """One proxy event through the contract's browser checks and the resolver."""
    headers = _lower(event.get("headers"))
    method = str(event.get("httpMethod") or "")
    origin = headers.get("origin")
    extra = {**api.page.headers(), **api.cors.response_headers(origin)}
    try:
        if is_preflight(method, headers):
            return _proxy(204, {**extra, **api.cors.preflight(origin or "")}, "")
        if not api.cors.allows(origin, headers.get("host")):
            raise contract.origin_not_allowed(origin or "")
        response = api.resolver.resolve(event, context)
    except ApiError as exc:
        refused(exc)
        return _proxy(exc.status, {**extra, **exc.headers, "Content-Type": "application/json"},
                      json.dumps(exc.body(), ensure_ascii=False))
    except Exception:  # whatever escaped Powertools itself: still the contract's 500
        log.exception("unhandled error outside the routes")
        return _proxy(500, {**extra, "Content-Type": "application/json"},
                      json.dumps(ApiError("internal_error", contract.INTERNAL_ERROR).body()))
    multi = response.setdefault("multiValueHeaders", {})
    present = {k.lower() for k in [*multi, *(response.get("headers") or {})]}
    for name, value in extra.items():
        if name.lower() not in present:
            multi[name] = [value]
    return response


def _proxy(status: int, headers: dict[str, str], body: str) -> dict[str, Any]:
    return {"statusCode": status, "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "body": body, "isBase64Encoded": False}


def lambda_entry(build: Callable[[], LambdaApi], metric: str) -> Any:
    """The Lambda handler of an API function: the adapter is built on the first invocation
    (from the settings), and every invocation counts in `metric`."""
    from aws_lambda_powertools.metrics import MetricUnit

    from .observability import logger, metrics

    built: list[LambdaApi] = []

    @logger.inject_lambda_context(log_event=False, correlation_id_path="requestContext.requestId")
    @metrics.log_metrics
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        metrics.add_metric(metric, MetricUnit.Count, 1)
        if not built:
            built.append(build())
        return respond(built[0], event, context)

    def prepare() -> None:
        """Build the adapter now (SnapStart's before-snapshot hook) rather than on first use."""
        if not built:
            built.append(build())

    handler.reset = built.clear  # type: ignore[attr-defined]  # tests switch settings
    handler.prepare = prepare  # type: ignore[attr-defined]
    return handler
