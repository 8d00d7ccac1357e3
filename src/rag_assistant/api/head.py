"""HEAD answered as GET without the body (RFC 9110 §9.3.2), on every path that has a GET route.

Starlette's own routes add HEAD to GET; FastAPI's do not (fastapi/fastapi#1773), and listing
HEAD on each route would put a second, duplicate operation per path in the OpenAPI document.
So the request runs as GET and only the status and headers (Content-Length included) go back.
"""

from __future__ import annotations

from .routes import methods_at


class HeadAsGet:
    """Pure ASGI middleware; outside the guard, which then checks HEAD exactly as GET."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD" or "GET" not in methods_at(scope["path"], "local"):
            await self.app(scope, receive, send)
            return

        async def headers_only(message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)
