"""A small local stand-in for what sits in front of the Lambda functions on AWS, so a real
browser can use the deployed shape of the app: API Gateway (stage /prod, the route table,
API keys, the gateway's own errors) turning HTTP requests into REST proxy events, and S3's
event notifications (a watcher that tells the upload function about new and removed objects).

The functions run in this process on DynamoDB Local and moto, one invocation at a time per
function, as one warm Lambda instance would. What this does not emulate (usage plans'
throttling, the gateway's CORS mock, IAM) rests on the template tests instead.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from lambda_support import FakeContext, invoke_upload, s3_event

from rag_assistant.api.routes import API_KEY_HEADER, GATEWAY_ERRORS, Route, find_route

STAGE = "prod"
#: API Gateway refuses payloads above 10 MB before any function runs.
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024


class LocalApiGateway:
    def __init__(self, api_key: str | None, auth_scope: str) -> None:
        from rag_assistant.aws import documents_handler, query_handler

        self.api_key, self.auth_scope = api_key, auth_scope
        self.functions = {"query": query_handler.handler, "documents": documents_handler.handler}
        self.locks = {name: threading.Lock() for name in self.functions}
        self.invocations: list[tuple[str, str, str]] = []  # (function, method, path)

    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict, bytes]:
        url = urlsplit(raw_path)
        prefix = f"/{STAGE}"
        if url.path != prefix and not url.path.startswith(prefix + "/"):
            return self.gateway_error("MISSING_AUTHENTICATION_TOKEN")
        path = url.path[len(prefix):] or "/"
        route = find_route(method, unquote(path), "aws")
        if route is None or route.function is None:
            return self.gateway_error("MISSING_AUTHENTICATION_TOKEN")
        if route.needs_key(self.auth_scope):
            sent = {k.lower(): v for k, v in headers.items()}.get(API_KEY_HEADER.lower())
            if self.api_key is None or sent != self.api_key:
                return self.gateway_error("INVALID_API_KEY")
        if len(body) > MAX_PAYLOAD_BYTES:
            return 413, {"Content-Type": "application/json"}, b'{"message": "Request Too Long"}'
        event = self.event(method, url.path, unquote(path), url.query, route, headers, body)
        with self.locks[route.function]:
            self.invocations.append((route.function, method, path))
            response = self.functions[route.function](event, FakeContext())
        out_headers = dict(response.get("headers") or {})
        for name, values in (response.get("multiValueHeaders") or {}).items():
            out_headers[name] = ", ".join(values)
        payload = response.get("body") or ""
        data = base64.b64decode(payload) if response.get("isBase64Encoded") else payload.encode("utf-8")
        return response["statusCode"], out_headers, data

    def gateway_error(self, response_type: str) -> tuple[int, dict, bytes]:
        status, code, message = GATEWAY_ERRORS[response_type]
        body = json.dumps({"error": {"code": code, "message": message}}).encode()
        return status, {"Content-Type": "application/json", "X-Content-Type-Options": "nosniff"}, body

    @staticmethod
    def event(method: str, stage_path: str, path: str, query: str, route: Route, headers: dict[str, str],
              body: bytes) -> dict[str, Any]:
        pairs = parse_qsl(query, keep_blank_values=True)
        multi_query: dict[str, list[str]] = {}
        for key, value in pairs:
            multi_query.setdefault(key, []).append(value)
        names = [part[1:-1] for part in route.path.split("/") if part.startswith("{")]
        values = [part for part, template in zip(path.split("/"), route.path.split("/"), strict=True)
                  if template.startswith("{")]
        try:
            text, encoded = body.decode("utf-8"), False
        except UnicodeDecodeError:
            text, encoded = base64.b64encode(body).decode(), True
        return {
            "resource": route.path, "path": path, "httpMethod": method,
            "headers": dict(headers), "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": dict(zip(names, values, strict=True)) or None, "stageVariables": None,
            "requestContext": {
                "resourcePath": route.path, "httpMethod": method, "path": stage_path, "stage": STAGE,
                "requestId": uuid.uuid4().hex, "accountId": "123456789012", "apiId": "local",
                "domainName": headers.get("Host", "localhost"), "protocol": "HTTP/1.1",
                "identity": {"sourceIp": "127.0.0.1", "userAgent": headers.get("User-Agent", "")},
            },
            "body": text or None, "isBase64Encoded": encoded,
        }


def _request_handler(gateway: LocalApiGateway) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k: v for k, v in self.headers.items()}
            status, out_headers, data = gateway.handle(self.command, self.path, headers, body)
            self.send_response(status)
            for name, value in out_headers.items():
                if name.lower() not in ("content-length", "connection"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = do_PUT = do_OPTIONS = _serve

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

    return Handler


class BucketNotifications:
    """S3 -> the upload function: every change of the bucket's objects becomes the event S3
    would send (ObjectCreated for new or replaced objects, ObjectRemoved for deleted ones)."""

    def __init__(self, s3: Any, bucket: str, interval: float = 0.3) -> None:
        self.s3, self.bucket, self.interval = s3, bucket, interval
        self.seen: dict[str, str] = {}
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            now = {o["Key"]: o["ETag"] for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
                   for o in page.get("Contents", [])}
            created = [k for k, etag in now.items() if self.seen.get(k) != etag]
            removed = [k for k in self.seen if k not in now]
            self.seen = now
            for kind, keys in (("created", created), ("removed", removed)):
                if keys:
                    try:
                        invoke_upload(s3_event(kind, self.bucket, *keys))
                    except Exception as exc:  # a failed batch: Lambda would retry; the test sees it listed
                        self.failures.append(f"{kind} {keys}: {exc}")


@contextmanager
def local_aws(s3: Any, bucket: str, *, api_key: str | None, auth_scope: str) -> Iterator[tuple[str, LocalApiGateway]]:
    """The API at http://127.0.0.1:<port>/prod/ and S3 notifications, for the duration."""
    gateway = LocalApiGateway(api_key, auth_scope)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _request_handler(gateway))
    notifications = BucketNotifications(s3, bucket)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    notifications.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", gateway
    finally:
        notifications.stop()
        server.shutdown()
        server.server_close()
        thread.join(10)
