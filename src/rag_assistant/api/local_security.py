"""Who may talk to the local server (`rag serve`), checked before any route runs.

- Host: only names that cannot be an attacker's (IP literals, localhost, the machine's own
  name, RAG_ALLOWED_HOSTS). DNS rebinding points an attacker's domain at 127.0.0.1; the
  browser then sends that domain as Host, and the request is refused.
- Origin: a browser request from another site is refused unless CORS_ALLOWED_ORIGINS lists it
  (contract.CorsPolicy); preflights are answered here.
- Token: write routes (upload, delete; with RAG_AUTH_SCOPE=all every read route too) need
  RAG_API_TOKEN, as `X-Api-Key` or `Authorization: Bearer`. Listening beyond loopback without
  one, the server makes one up and prints it at start.
- Headers: CSP, nosniff, frame-ancestors/X-Frame-Options, Referrer-Policy on every response.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import secrets
import socket
from dataclasses import dataclass, field

from .contract import ApiError, CorsPolicy, PageSecurity, is_preflight, origin_not_allowed
from .routes import find_route

log = logging.getLogger("rag_assistant.api")

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1", "[::1]")


def is_loopback(bind_host: str) -> bool:
    host = bind_host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host_name(host_header: str) -> str:
    """The name part of a Host header: "[::1]:8000" -> "::1", "a.example:80" -> "a.example"."""
    value = host_header.strip().lower()
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


@dataclass(frozen=True)
class LocalSecurity:
    cors: CorsPolicy = field(default_factory=CorsPolicy)
    #: Host names besides IP literals and localhost; "*" turns the check off.
    allowed_hosts: tuple[str, ...] = ()
    token: str | None = field(default=None, repr=False)
    auth_scope: str = "writes"
    page: PageSecurity = field(default_factory=PageSecurity)

    @property
    def effective_scope(self) -> str:
        """What /rag/config tells the page: no token, nothing to enter."""
        return "none" if self.token is None else self.auth_scope

    def host_allowed(self, host_header: str | None) -> bool:
        if "*" in self.allowed_hosts:
            return True
        if not host_header:
            return False
        name = _host_name(host_header).rstrip(".")
        try:
            ipaddress.ip_address(name)
            return True  # rebinding needs a domain name: an IP literal cannot be one
        except ValueError:
            pass
        if name == "localhost" or name.endswith(".localhost"):
            return True
        return any(name == h or (h.startswith(".") and name.endswith(h)) for h in self.allowed_hosts)

    def key_matches(self, headers: dict[str, str]) -> bool:
        presented = headers.get("x-api-key")
        if presented is None:
            scheme, _, value = headers.get("authorization", "").partition(" ")
            presented = value.strip() if scheme.lower() == "bearer" else None
        if not presented or self.token is None:
            return False
        # LocalGuard reads headers as latin-1 (HTTP's rule): encoding back gives the bytes the
        # client sent, which for a token beyond ASCII are its UTF-8 bytes.
        return hmac.compare_digest(presented.encode("latin-1", "replace"), self.token.encode("utf-8"))

    def check(self, method: str, path: str, headers: dict[str, str]) -> dict[str, str] | None:
        """None to go on; preflight headers to answer 204 with; ApiError to refuse."""
        if not self.host_allowed(headers.get("host")):
            raise ApiError("host_not_allowed",
                           "this server does not answer to that host name (RAG_ALLOWED_HOSTS adds names)")
        origin = headers.get("origin")
        if is_preflight(method, headers):
            return self.cors.preflight(origin or "")
        if not self.cors.allows(origin, headers.get("host")):
            raise origin_not_allowed(origin or "")
        route = find_route(method, path, "local")
        needs_key = route is not None and self.token is not None and route.needs_key(self.auth_scope)
        if needs_key and not self.key_matches(headers):
            raise ApiError("unauthorized", "this route needs the server's API token: send it as "
                               "X-Api-Key (or Authorization: Bearer); `rag serve` printed it at start")
        return None

    @classmethod
    def for_server(cls, settings, bind_host: str) -> tuple[LocalSecurity, bool]:
        """(security for `rag serve` on `bind_host`, whether the token was made up here)."""
        token = settings.api_token.get_secret_value() if settings.api_token else None
        made_up = False
        beyond_loopback = not is_loopback(bind_host)
        if token is None and beyond_loopback and settings.auth_scope != "none":
            token, made_up = secrets.token_urlsafe(24), True
        hosts = list(settings.allowed_host_names)
        if beyond_loopback:
            hosts.append(socket.gethostname().lower())
        security = cls(cors=CorsPolicy.from_list(settings.cors_origins), allowed_hosts=tuple(hosts),
                       token=token if settings.auth_scope != "none" else None, auth_scope=settings.auth_scope)
        return security, made_up


class LocalGuard:
    """Pure ASGI middleware: LocalSecurity.check before the app, security headers after."""

    def __init__(self, app, security: LocalSecurity) -> None:
        self.app, self.security = app, security

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        extra = {**self.security.page.headers(), **self.security.cors.response_headers(headers.get("origin"))}
        try:
            preflight = self.security.check(scope["method"], scope["path"], headers)
        except ApiError as exc:
            body = json.dumps(exc.body(), ensure_ascii=False).encode()
            await _respond(send, exc.status, {**extra, **exc.headers, "Content-Type": "application/json"}, body)
            return
        if preflight is not None:
            await _respond(send, 204, {**extra, **preflight}, b"")
            return

        async def with_headers(message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                added = [(k.lower().encode(), v.encode()) for k, v in extra.items() if k.lower().encode() not in present]
                message = {**message, "headers": list(message.get("headers", [])) + added}
            await send(message)

        await self.app(scope, receive, with_headers)


async def _respond(send, status: int, headers: dict[str, str], body: bytes) -> None:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
