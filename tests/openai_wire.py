"""A local HTTP server that speaks OpenAI's chat-completions wire format, for protocol tests
of the official SDK (what no paid API can do in a test): JSON and server-sent-event
replies, scripted errors (401/429/500) and slowness, and a record of every request."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Script:
    reply: str = "The answer [1]."
    #: statuses to answer before succeeding, e.g. [429, 429] (then the reply)
    failures: list[int] = field(default_factory=list)
    delay_seconds: float = 0.0
    usage: tuple[int, int] = (120, 12)
    requests: list[dict] = field(default_factory=list)
    headers: list[dict] = field(default_factory=list)
    dimension: int = 1536


def embedding_for(text: str, dimension: int) -> list[float]:
    """Deterministic bag-of-words vectors: texts sharing words point the same way."""
    import hashlib
    import math

    vector = [0.0] * dimension
    for word in text.lower().split():
        digest = hashlib.sha256(word.strip(".,?!").encode()).digest()
        vector[int.from_bytes(digest[:4], "little") % dimension] += 1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


_ERRORS = {
    401: ("invalid_request_error", "Incorrect API key provided: sk-test-***-not-real. You can find your API key at ..."),
    429: ("rate_limit_exceeded", "Rate limit reached for requests"),
    500: ("server_error", "The server had an error while processing your request."),
}


def _handler(script: Script) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # quiet
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            script.requests.append(body)
            script.headers.append({k.lower(): v for k, v in self.headers.items()})
            if self.path.endswith("/embeddings") and not script.failures:
                return self._embeddings(body)
            if not self.path.endswith(("/chat/completions", "/embeddings")):
                return self._json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})
            if script.delay_seconds:
                time.sleep(script.delay_seconds)
            if script.failures:
                status = script.failures.pop(0)
                kind, message = _ERRORS[status]
                return self._json(status, {"error": {"message": message, "type": kind, "code": kind}},
                                  {"retry-after-ms": "10"})
            prompt, completion = script.usage
            usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
            if body.get("stream"):
                return self._stream(body, usage)
            self._json(200, {
                "id": "chatcmpl-test", "object": "chat.completion", "created": 1, "model": body["model"],
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": script.reply}}],
                "usage": usage})

        def _embeddings(self, body: dict) -> None:
            import base64
            import struct

            inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
            data = []
            for index, text in enumerate(inputs):
                vector = embedding_for(text, script.dimension)
                if body.get("encoding_format") == "base64":
                    encoded = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
                    data.append({"object": "embedding", "index": index, "embedding": encoded})
                else:
                    data.append({"object": "embedding", "index": index, "embedding": vector})
            self._json(200, {"object": "list", "data": data[::-1],  # out of order: clients must sort by index
                             "model": body["model"], "usage": {"prompt_tokens": 5, "total_tokens": 5}})

        def _stream(self, body: dict, usage: dict) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            pieces = [script.reply[i:i + 7] for i in range(0, len(script.reply), 7)]
            for piece in pieces:
                chunk = {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 1,
                         "model": body["model"],
                         "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()
            if body.get("stream_options", {}).get("include_usage"):
                final = {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 1,
                         "model": body["model"], "choices": [], "usage": usage}
                self.wfile.write(f"data: {json.dumps(final)}\n\n".encode())
            self.wfile.write(b"data: [DONE]\n\n")

        def _json(self, status: int, payload: dict, headers: dict | None = None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

    return Handler


@contextmanager
def openai_wire_server(script: Script) -> Iterator[str]:
    """Yields the base URL (http://127.0.0.1:PORT/v1) of a server following `script`."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(script))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
