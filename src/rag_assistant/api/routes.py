"""Every HTTP route of the assistant, in one table: where it is served and who may call it.

Standard library only: the CDK stack imports this module (without the project's
dependencies) to build API Gateway's routes and their authorization from the same table
the local server checks its token against.

`access`:
  public  anyone: the page, its assets, /rag/config (which tells the page whether a key is needed)
  read    questions and listings: open unless reads are protected too (RAG_AUTH_SCOPE=all,
          the stack's apiKey=all)
  write   changes the index (upload, delete): needs the token / API key by default
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Access = Literal["public", "read", "write"]
Home = Literal["local", "aws"]
#: Which of the API Lambda functions serves a route on AWS.
Function = Literal["query", "documents"]

#: The header that carries the API key: API Gateway's own, and what the local server accepts
#: besides `Authorization: Bearer ...`.
API_KEY_HEADER = "X-Api-Key"
#: RAG_AUTH_SCOPE / the stack's apiKey: which routes need the key.
AUTH_SCOPES = ("none", "writes", "all")
#: What a browser from an allowed origin may send (CORS preflights, both homes).
CORS_ALLOWED_HEADERS = ("Content-Type", "Authorization", API_KEY_HEADER)


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    #: API Gateway's notation: /rag/documents/{document_id}
    path: str
    access: Access
    homes: tuple[Home, ...]
    function: Function | None = None

    @property
    def pattern(self) -> re.Pattern[str]:
        return re.compile("^" + re.sub(r"\{[a-z_]+\}", "[^/]+", self.path) + "$")

    def needs_key(self, scope: str) -> bool:
        """Whether a caller must present the key under this auth scope."""
        if self.access == "write":
            return scope in ("writes", "all")
        return self.access == "read" and scope == "all"


BOTH: tuple[Home, ...] = ("local", "aws")

ROUTES: tuple[Route, ...] = (
    Route("GET", "/", "public", BOTH, "documents"),
    Route("GET", "/static/{file}", "public", BOTH, "documents"),
    # Served by the query function on AWS: it builds the same RagService.describe() as the
    # local server, so both report who really answers (and it warms the query function).
    Route("GET", "/rag/config", "public", BOTH, "query"),
    Route("POST", "/rag/query", "read", BOTH, "query"),
    Route("GET", "/rag/documents", "read", BOTH, "documents"),
    Route("GET", "/rag/documents/{document_id}", "read", BOTH, "documents"),
    Route("DELETE", "/rag/documents/{document_id}", "write", BOTH, "documents"),
    Route("POST", "/rag/documents", "write", ("local",)),
    Route("POST", "/rag/documents/upload-url", "write", ("aws",), "documents"),
    Route("GET", "/healthz", "public", ("local",)),
    # On AWS the page links static/favicon.svg under its stage; the host root is not the API's.
    Route("GET", "/favicon.ico", "public", ("local",)),
    Route("GET", "/openapi.json", "public", ("local",)),
    Route("GET", "/docs", "public", ("local",)),
    Route("GET", "/docs/static/{file}", "public", ("local",)),
)


def routes_for(home: Home) -> tuple[Route, ...]:
    return tuple(r for r in ROUTES if home in r.homes)


def find_route(method: str, path: str, home: Home) -> Route | None:
    for route in routes_for(home):
        if route.method == method and route.pattern.match(path):
            return route
    return None


def methods_at(path: str, home: Home) -> list[str]:
    """The methods a path answers to (an empty list: no such route)."""
    return sorted({r.method for r in routes_for(home) if r.pattern.match(path)})


#: What API Gateway itself answers, in the contract's error shape (the stack's gateway
#: responses; the local API Gateway stand-in of the tests answers the same):
#: response type -> (status, code, message).
GATEWAY_ERRORS: dict[str, tuple[int, str, str]] = {
    # A missing or wrong x-api-key on a route that needs one.
    "INVALID_API_KEY": (401, "unauthorized", f"this route needs the API key: send it as {API_KEY_HEADER}"),
    # No such resource or method: API Gateway's own name for it is misleading.
    "MISSING_AUTHENTICATION_TOKEN": (404, "not_found", "no such route (or not with this method)"),
}
