"""The HTTP contract both homes keep: the FastAPI app (`rag serve`) and the Lambda functions
behind API Gateway are thin adapters over this module.

It owns the error type and the one code -> status table, the body and parameter rules
(strict types, limits, hostile JSON), cursor and id checks, CORS, the security headers and
the /rag/config payload. No web framework here: the documents function imports it without
FastAPI (and without numpy).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ValidationError

from ..errors import RagError
from .errors import describe_validation_errors, error_body
from .routes import API_KEY_HEADER, CORS_ALLOWED_HEADERS

#: A question is at most 2,000 characters; even written as \uXXXX escapes it fits in 16 KB.
MAX_JSON_BODY_BYTES = 16 * 1024
#: Our bodies are flat objects; anything deeper is not a request of ours.
MAX_JSON_DEPTH = 16
#: Far above any count or size we accept; parsing a 5,000-digit integer is work for nothing.
MAX_JSON_NUMBER_CHARS = 40
#: What a multipart body may add around the file itself (boundaries, part headers).
MULTIPART_OVERHEAD_BYTES = 64 * 1024
MAX_DOCUMENT_ID_CHARS = 200
MAX_CURSOR_CHARS = 1000
LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX = 10, 100
#: Seconds a client should wait before retrying a document another worker is indexing, or
#: an upload the full ingestion queue turned away.
RETRY_AFTER_SECONDS = {"document_busy": 5, "server_busy": 5}

#: The one code -> status table. A code not listed here answers 400 (a RagError the client
#: caused) — except that every code a client could act on is listed.
STATUS_BY_CODE: dict[str, int] = {
    "invalid_json": 400,
    "invalid_multipart": 400,
    "invalid_cursor": 400,
    "too_many_files": 400,
    "host_not_allowed": 400,
    "unauthorized": 401,
    "origin_not_allowed": 403,
    "not_found": 404,
    "document_not_found": 404,
    "method_not_allowed": 405,
    # Retryable: another worker is indexing the same document right now (Retry-After).
    "document_busy": 409,
    # The document was deleted while this version was being indexed: the delete won.
    "superseded": 409,
    "not_deletable": 409,
    "body_too_large": 413,
    "file_too_large": 413,
    "unsupported_file": 415,
    "validation_error": 422,
    "ingest_failed": 422,
    "empty_document": 422,
    "corrupt_file": 422,
    "encrypted_file": 422,
    "no_text_layer": 422,
    "decoding_failed": 422,
    # Past a per-document bound (pages, characters, chunks, reader memory) or the reader's deadline.
    "too_complex": 422,
    "timeout": 422,
    "rate_limited": 429,
    "internal_error": 500,
    "configuration_error": 503,
    "embedding_model_mismatch": 503,
    "embedding_unavailable": 503,
    # Retryable: every ingestion worker is busy and the queue is full (Retry-After).
    "server_busy": 503,
}


def status_for(code: str) -> int:
    return STATUS_BY_CODE.get(code, 400)


class ApiError(Exception):
    """An answer other than success: status, stable code, message for people, details."""

    def __init__(self, code: str, message: str, details: list[dict[str, str]] | None = None,
                 *, status: int | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.details = code, message, details
        self.status = status if status is not None else status_for(code)

    @property
    def headers(self) -> dict[str, str]:
        retry = RETRY_AFTER_SECONDS.get(self.code)
        headers = {"Retry-After": str(retry)} if retry else {}
        if self.status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="rag-assistant"'
        return headers

    def body(self) -> dict[str, Any]:
        return error_body(self.code, self.message, self.details)


def from_rag_error(exc: RagError) -> ApiError:
    return ApiError(exc.code, str(exc))


def ingest_failure(code: str | None, file_name: str, reason: str | None) -> ApiError:
    """A file the service could not index (its IngestResult), as the API answers it."""
    return ApiError(code or "ingest_failed", f"{file_name}: {reason}")


def no_route(path: str) -> ApiError:
    return ApiError("not_found", f"no route {path}")


def method_not_allowed(method: str, path: str) -> ApiError:
    return ApiError("method_not_allowed", f"{method} is not allowed on {path}")


INTERNAL_ERROR = "unexpected server error; the server log has the details"


# --- bodies --------------------------------------------------------------------------------


def check_length(declared: str | int | None, limit: int, code: str = "body_too_large",
                 message: str | None = None) -> None:
    """Refuse a body by its Content-Length before reading any of it."""
    if declared is None:
        return
    try:
        size = int(declared)
    except (TypeError, ValueError):
        return  # the HTTP server refuses a malformed Content-Length before we see it
    if size > limit:
        raise ApiError(code, message or _too_large_message(limit))


def body_too_large(limit: int) -> ApiError:
    return ApiError("body_too_large", _too_large_message(limit))


def _too_large_message(limit: int) -> str:
    return f"the request body is larger than {limit:,} bytes"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _bounded_int(text: str) -> int:
    if len(text) > MAX_JSON_NUMBER_CHARS:
        raise ValueError("number too long")
    return int(text)


def _bounded_float(text: str) -> float:
    if len(text) > MAX_JSON_NUMBER_CHARS:
        raise ValueError("number too long")
    return float(text)


def parse_json(raw: bytes | None, limit: int = MAX_JSON_BODY_BYTES) -> Any:
    """The body as JSON (None when empty), or ApiError: too large, not UTF-8, not JSON,
    too deep, numbers too long, NaN/Infinity. Never anything else, whatever the bytes."""
    if not raw:
        return None
    if len(raw) > limit:
        raise body_too_large(limit)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError("invalid_json", "the request body is not UTF-8 text") from None
    try:
        data = json.loads(text, parse_int=_bounded_int, parse_float=_bounded_float,
                          parse_constant=_reject_constant)
    except RecursionError:
        raise ApiError("invalid_json", f"the request body nests deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError:  # JSONDecodeError, and our own refusals above
        raise ApiError("invalid_json", "the request body is not valid JSON") from None
    if _depth(data) > MAX_JSON_DEPTH:
        raise ApiError("invalid_json", f"the request body nests deeper than {MAX_JSON_DEPTH} levels")
    return data


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children if isinstance(child, dict | list))
    return deepest


Model = TypeVar("Model", bound=BaseModel)


def validate(model: type[Model], data: Any) -> Model:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        summary, details = describe_validation_errors(exc.errors())
        raise ApiError("validation_error", summary, details) from None


def parse_body(model: type[Model], raw: bytes | None) -> Model:
    return validate(model, parse_json(raw))


# --- parameters ------------------------------------------------------------------------------


def _invalid(field_name: str, problem: str) -> ApiError:
    return ApiError("validation_error", f"{field_name}: {problem}", [{"field": field_name, "problem": problem}])


def list_params(params: Mapping[str, str] | None) -> tuple[int, str | None]:
    """?limit=1..100 (decimal digits only) and ?cursor= (as a previous page returned it)."""
    params = params or {}
    raw_limit = params.get("limit")
    if raw_limit is None:
        limit = LIST_LIMIT_DEFAULT
    else:
        problem = f"must be an integer from 1 to {LIST_LIMIT_MAX}"
        if not (raw_limit.isascii() and raw_limit.isdigit()) or len(raw_limit) > 3:
            raise _invalid("limit", problem)
        limit = int(raw_limit)
        if not 1 <= limit <= LIST_LIMIT_MAX:
            raise _invalid("limit", problem)
    cursor = params.get("cursor")
    if cursor is not None and len(cursor) > MAX_CURSOR_CHARS:
        raise _invalid("cursor", f"at most {MAX_CURSOR_CHARS} characters")
    return limit, cursor or None


def invalid_cursor() -> ApiError:
    return ApiError("invalid_cursor", "the cursor is not one this API returned")


#: What a path parameter may hold: exactly what the Lambda router (Powertools) can route, so
#: both homes accept and refuse the same document ids.
_PATH_PARAMETER = re.compile(r"[\w\-._~()'!*:@,;=+&$%<> \[\]{}|^]+")


def invalid_path_parameter(name: str) -> ApiError:
    return _invalid(name, f"1 to {MAX_DOCUMENT_ID_CHARS} characters: letters, digits and -._~()'!*:@,;=+&$%<> []{{}}|^")


def check_document_id(document_id: str) -> str:
    if len(document_id) > MAX_DOCUMENT_ID_CHARS or not _PATH_PARAMETER.fullmatch(document_id):
        raise invalid_path_parameter("document_id")
    return document_id


def document_not_found(document_id: str) -> ApiError:
    return ApiError("document_not_found", f"no document with id {document_id!r}")


def document_page(documents: Iterable[Any], next_cursor: str | None) -> dict[str, Any]:
    return {"documents": [d.to_dict() for d in documents], "next_cursor": next_cursor}


def config_payload(info: Any, *, upload_mode: str, auth_scope: str) -> dict[str, Any]:
    """GET /rag/config from RagService.describe() (models.ServiceInfo): what the page adapts to."""
    return {
        "upload_mode": upload_mode,
        "max_upload_bytes": info.max_file_bytes,
        "accepted_types": list(info.accepted_types),
        "generator": info.generator,
        "embedding_model": info.embedding_model,
        "auth": {"scope": auth_scope, "header": API_KEY_HEADER},
    }


# --- browsers: CORS and security headers -----------------------------------------------------

ALLOWED_METHODS = "GET, POST, DELETE"
ALLOWED_HEADERS = ", ".join(CORS_ALLOWED_HEADERS)
PREFLIGHT_MAX_AGE = "600"


def _netloc(url_or_host: str) -> str:
    """host[:port], lower case, without the scheme's default port."""
    if "//" in url_or_host:
        parts = urlsplit(url_or_host)
        host, default = parts.netloc, {"http": ":80", "https": ":443"}.get(parts.scheme, "")
    else:
        host, default = url_or_host, ""
    host = host.strip().lower()
    if default and host.endswith(default):
        host = host[: -len(default)]
    return host


@dataclass(frozen=True)
class CorsPolicy:
    """CORS_ALLOWED_ORIGINS: empty = same origin only (the default), "*" = any origin (no
    credentials), else the listed origins. A request that carries an Origin which is neither
    its own nor allowed is refused (403): a form post or a `simple` fetch from another site
    must not reach the index, whether or not the browser would let that site read the answer."""

    origins: tuple[str, ...] = ()

    @classmethod
    def from_list(cls, origins: Iterable[str]) -> CorsPolicy:
        return cls(tuple(o.strip().rstrip("/") for o in origins if o.strip()))

    @property
    def any_origin(self) -> bool:
        return "*" in self.origins

    def listed(self, origin: str) -> bool:
        return self.any_origin or origin.rstrip("/") in self.origins

    def allows(self, origin: str | None, host: str | None) -> bool:
        """Whether a request from `origin` to this `host` (its Host header) may proceed."""
        if origin is None:
            return True  # not a browser's cross-origin request (curl, same-origin GET)
        same = origin != "null" and host is not None and _netloc(origin) == _netloc(host)
        return same or self.listed(origin)

    def response_headers(self, origin: str | None) -> dict[str, str]:
        if self.any_origin:
            return {"Access-Control-Allow-Origin": "*"}
        if origin and self.listed(origin):
            return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
        return {"Vary": "Origin"} if self.origins else {}

    def preflight(self, origin: str) -> dict[str, str]:
        """Headers of a successful preflight; ApiError 403 for an origin not allowed."""
        if not self.listed(origin):
            raise origin_not_allowed(origin)
        return {**self.response_headers(origin), "Access-Control-Allow-Methods": ALLOWED_METHODS,
                "Access-Control-Allow-Headers": ALLOWED_HEADERS, "Access-Control-Max-Age": PREFLIGHT_MAX_AGE}


def origin_not_allowed(origin: str) -> ApiError:
    return ApiError("origin_not_allowed",
                    f"requests from {origin[:200]} are not allowed (CORS_ALLOWED_ORIGINS lists the sites that may call)")


def is_preflight(method: str, headers: Mapping[str, str]) -> bool:
    return method == "OPTIONS" and "origin" in headers and "access-control-request-method" in headers


@dataclass(frozen=True)
class PageSecurity:
    """Headers on every response. The page runs no inline script or style, so the policy
    allows scripts, styles and connections from its own origin only, plus `connect_to`
    (the S3 endpoint that takes presigned uploads on AWS)."""

    connect_to: tuple[str, ...] = field(default=())

    def headers(self) -> dict[str, str]:
        connect = " ".join(("'self'", *self.connect_to))
        return {
            "Content-Security-Policy": (
                "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                f"connect-src {connect}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "no-referrer",
            "Cross-Origin-Opener-Policy": "same-origin",
            # Answers and document lists are the team's documents: no shared or browser cache
            # keeps them (the page's own files set their own caching).
            "Cache-Control": "no-store",
        }


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
