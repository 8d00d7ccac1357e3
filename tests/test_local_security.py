"""The local server as an attacker meets it: other sites' pages, rebinding DNS names, missing
tokens, hostile uploads and bodies far over the limits. Checks through FastAPI's TestClient,
and body limits against a real uvicorn server over a real socket."""

from __future__ import annotations

import select
import socket
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from http_support import serving

from rag_assistant.api.app import create_app
from rag_assistant.api.contract import CorsPolicy
from rag_assistant.api.local_security import LocalSecurity, is_loopback
from rag_assistant.bootstrap import create_service
from rag_assistant.config import Settings
from rag_assistant.embedding.hashing import HashingEmbedder

BASE = "http://127.0.0.1:8000"
SAME_ORIGIN = BASE
EVIL = "https://evil.example"
TOKEN = "s3cret-token-for-tests"
NOTE = ("note.md", b"# Backups\nThe nightly backup runs at two o'clock.", "text/markdown")


def make_app(tmp_path: Path, security: LocalSecurity | None = None, **settings):
    config = Settings(RAG_DATA_DIR=tmp_path / "data", LLM_PROVIDER="extractive", **settings)
    return create_app(lambda: create_service(config, embedder=HashingEmbedder()), security=security, warm_up=False)


@pytest.fixture()
def client(tmp_path: Path):
    with TestClient(make_app(tmp_path), base_url=BASE, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture()
def token_client(tmp_path: Path):
    app = make_app(tmp_path, LocalSecurity(token=TOKEN))
    with TestClient(app, base_url=BASE, raise_server_exceptions=False) as c:
        yield c


def error_code(response) -> str:
    return response.json()["error"]["code"]


def listed(client: TestClient) -> list[str]:
    return [d["file_name"] for d in client.get("/rag/documents").json()["documents"]]


# --- other sites ------------------------------------------------------------------------------


def test_an_evil_page_can_neither_preflight_nor_post_nor_delete(client: TestClient) -> None:
    for method in ("POST", "DELETE"):
        preflight = client.options("/rag/documents/x", headers={
            "Origin": EVIL, "Access-Control-Request-Method": method})
        assert preflight.status_code == 403 and "access-control-allow-origin" not in preflight.headers
    # A multipart form post needs no preflight: the Origin header alone refuses it.
    upload = client.post("/rag/documents", files={"file": NOTE}, headers={"Origin": EVIL})
    assert upload.status_code == 403 and error_code(upload) == "origin_not_allowed"
    question = client.post("/rag/query", content=b'{"question": "what is indexed?"}',
                           headers={"Origin": EVIL, "Content-Type": "text/plain"})
    assert question.status_code == 403
    assert listed(client) == []  # nothing was indexed

    own = client.post("/rag/documents", files={"file": NOTE}, headers={"Origin": SAME_ORIGIN})
    assert own.status_code == 201, own.text
    document_id = own.json()["document"]["document_id"]
    delete = client.delete(f"/rag/documents/{document_id}", headers={"Origin": EVIL})
    assert delete.status_code == 403 and listed(client) == ["note.md"]
    # A sandboxed frame or a file:// page says Origin: null; it is not this server either.
    assert client.get("/rag/documents", headers={"Origin": "null"}).status_code == 403


def test_listed_origins_are_let_in_and_echoed(tmp_path: Path) -> None:
    security = LocalSecurity(cors=CorsPolicy.from_list(["https://app.example.com", "http://localhost:3000"]))
    with TestClient(make_app(tmp_path, security), base_url=BASE) as c:
        preflight = c.options("/rag/documents/x", headers={
            "Origin": "http://localhost:3000", "Access-Control-Request-Method": "DELETE",
            "Access-Control-Request-Headers": "x-api-key"})
        assert preflight.status_code == 204
        assert preflight.headers["access-control-allow-origin"] == "http://localhost:3000"
        assert "X-Api-Key" in preflight.headers["access-control-allow-headers"]
        ok = c.post("/rag/documents", files={"file": NOTE}, headers={"Origin": "https://app.example.com"})
        assert ok.status_code == 201 and ok.headers["access-control-allow-origin"] == "https://app.example.com"
        assert c.get("/healthz", headers={"Origin": EVIL}).status_code == 403


# --- host names ---------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["attacker.example", "attacker.example:8000", "127.0.0.1.nip.io:8000",
                                  "localhost.attacker.example", ""])
def test_a_foreign_host_is_refused_so_dns_rebinding_fails(client: TestClient, host: str) -> None:
    for path in ("/", "/rag/documents", "/rag/config"):
        response = client.get(path, headers={"Host": host})
        assert response.status_code == 400 and error_code(response) == "host_not_allowed", (path, host)
        assert response.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize("host", ["127.0.0.1:8000", "localhost:8000", "[::1]:8000", "192.168.10.5:8000",
                                  "rag.localhost:8000", "LOCALHOST"])
def test_ip_literals_and_localhost_are_answered(client: TestClient, host: str) -> None:
    assert client.get("/healthz", headers={"Host": host}).status_code == 200


def test_more_host_names_are_a_setting(tmp_path: Path) -> None:
    settings = Settings(RAG_DATA_DIR=tmp_path, RAG_ALLOWED_HOSTS="rag.internal, .corp.example")
    security, made_up = LocalSecurity.for_server(settings, "127.0.0.1")
    assert not made_up and security.token is None
    assert security.host_allowed("rag.internal:8000") and security.host_allowed("docs.corp.example")
    assert not security.host_allowed("corp.example.attacker.net") and not security.host_allowed("attacker.example")
    anything, _ = LocalSecurity.for_server(Settings(RAG_DATA_DIR=tmp_path, RAG_ALLOWED_HOSTS="*"), "127.0.0.1")
    assert anything.host_allowed("attacker.example")


# --- the token ------------------------------------------------------------------------------------


def test_write_routes_need_the_token_reads_do_not(token_client: TestClient) -> None:
    missing = token_client.post("/rag/documents", files={"file": NOTE})
    assert missing.status_code == 401 and error_code(missing) == "unauthorized"
    assert missing.headers["www-authenticate"].startswith("Bearer")
    wrong = token_client.post("/rag/documents", files={"file": NOTE}, headers={"X-Api-Key": TOKEN + "x"})
    assert wrong.status_code == 401 and listed(token_client) == []
    created = token_client.post("/rag/documents", files={"file": NOTE}, headers={"X-Api-Key": TOKEN})
    assert created.status_code == 201
    document_id = created.json()["document"]["document_id"]
    assert token_client.delete(f"/rag/documents/{document_id}").status_code == 401
    assert token_client.post("/rag/query", json={"question": "When does the backup run?"}).status_code == 200
    assert token_client.get(f"/rag/documents/{document_id}").status_code == 200
    deleted = token_client.delete(f"/rag/documents/{document_id}", headers={"Authorization": f"Bearer {TOKEN}"})
    assert deleted.status_code == 204
    assert token_client.get("/rag/config").json()["auth"] == {"scope": "writes", "header": "X-Api-Key"}
    # Preflights never carry credentials, so they never need them.
    assert token_client.options("/rag/documents/x", headers={
        "Origin": EVIL, "Access-Control-Request-Method": "DELETE"}).status_code == 403


def test_a_token_beyond_ascii_matches_the_bytes_the_client_sends(tmp_path: Path) -> None:
    # RAG_API_TOKEN="비밀-토큰": a client sends its UTF-8 bytes; the server must compare bytes
    # with bytes, not the header as read (latin-1, HTTP's rule) re-encoded as UTF-8.
    token = "비밀-토큰-for-tests"
    app = make_app(tmp_path, LocalSecurity(token=token))
    with TestClient(app, base_url=BASE, raise_server_exceptions=False) as c:
        wrong = c.post("/rag/documents", files={"file": NOTE}, headers={"X-Api-Key": (token + "x").encode()})
        assert wrong.status_code == 401 and listed(c) == []
        created = c.post("/rag/documents", files={"file": NOTE}, headers={"X-Api-Key": token.encode()})
        assert created.status_code == 201, created.text
        document_id = created.json()["document"]["document_id"]
        deleted = c.delete(f"/rag/documents/{document_id}", headers={"Authorization": f"Bearer {token}".encode()})
        assert deleted.status_code == 204 and listed(c) == []


def test_scope_all_protects_reads_but_not_the_page_or_its_config(tmp_path: Path) -> None:
    with TestClient(make_app(tmp_path, LocalSecurity(token=TOKEN, auth_scope="all")), base_url=BASE) as c:
        assert c.get("/rag/documents").status_code == 401
        assert c.post("/rag/query", json={"question": "q"}).status_code == 401
        assert c.get("/rag/documents", headers={"X-Api-Key": TOKEN}).status_code == 200
        assert c.get("/").status_code == 200 and c.get("/static/app.js").status_code == 200
        assert c.get("/rag/config").json()["auth"]["scope"] == "all"


def test_head_answers_like_get_without_a_body_and_is_guarded_like_get(tmp_path: Path) -> None:
    import httpx

    app = make_app(tmp_path, LocalSecurity(token=TOKEN, auth_scope="all"))
    with serving(app) as base, httpx.Client(base_url=base, headers={"X-Api-Key": TOKEN}) as c:
        for path in ("/", "/favicon.ico", "/healthz", "/rag/config", "/rag/documents", "/static/app.js", "/docs",
                     "/openapi.json"):
            get, head = c.get(path), c.head(path)
            assert (get.status_code, head.status_code) == (200, 200), path
            assert head.content == b"" and get.content, path
            for header in ("content-type", "content-length", "content-security-policy"):
                assert head.headers[header] == get.headers[header], (path, header)
        # The key is checked on HEAD as on GET; a path without GET still refuses HEAD.
        assert httpx.head(base + "/rag/documents").status_code == 401
        assert c.head("/rag/query").status_code == 405
        assert c.head("/rag/nothing").status_code == 404


def test_the_favicon_is_served_from_this_server_and_cached(client: TestClient) -> None:
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml"
    assert icon.content.startswith(b"<svg") and len(icon.content) < 2048
    assert icon.headers["cache-control"] == "public, max-age=86400"
    # The page names its icon (relative: on AWS it lives under the stage), so browsers need not guess.
    assert '<link rel="icon" href="static/favicon.svg"' in client.get("/").text
    linked = client.get("/static/favicon.svg")
    assert linked.status_code == 200 and linked.content == icon.content


def test_beyond_loopback_a_token_is_made_up_unless_one_is_set(tmp_path: Path) -> None:
    base = Settings(RAG_DATA_DIR=tmp_path)
    loopback, made_up = LocalSecurity.for_server(base, "127.0.0.1")
    assert (loopback.token, made_up, loopback.effective_scope) == (None, False, "none")
    shared, made_up = LocalSecurity.for_server(base, "0.0.0.0")
    assert made_up and len(shared.token or "") >= 32 and shared.effective_scope == "writes"
    other, _ = LocalSecurity.for_server(base, "0.0.0.0")
    assert other.token != shared.token  # never a fixed default
    configured, made_up = LocalSecurity.for_server(Settings(RAG_DATA_DIR=tmp_path, RAG_API_TOKEN="mine"), "::")
    assert (configured.token, made_up) == ("mine", False)
    # A token set on loopback is required there too.
    assert LocalSecurity.for_server(Settings(RAG_DATA_DIR=tmp_path, RAG_API_TOKEN="mine"), "127.0.0.1")[0].token
    off, _ = LocalSecurity.for_server(Settings(RAG_DATA_DIR=tmp_path, RAG_AUTH_SCOPE="none"), "0.0.0.0")
    assert off.token is None
    assert [is_loopback(h) for h in ("127.0.0.1", "127.9.9.9", "::1", "[::1]", "localhost", "0.0.0.0", "::")] == [
        True, True, True, True, True, False, False]


# --- headers ----------------------------------------------------------------------------------------


def test_every_response_carries_the_security_headers(client: TestClient) -> None:
    for response in (client.get("/"), client.get("/static/app.js"), client.get("/rag/documents"),
                     client.get("/rag/nothing"), client.post("/rag/query", content=b"{")):
        headers = response.headers
        policy = headers["content-security-policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy
        assert headers["x-content-type-options"] == "nosniff" and headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer"
    page = client.get("/").text
    assert "<script>" not in page and "style=" not in page and "<style" not in page
    docs = client.get("/docs")
    assert docs.status_code == 200 and "'sha256-" in docs.headers["content-security-policy"]


# --- uploads as they stream -----------------------------------------------------------------------


def multipart(*parts: tuple[str, str, bytes], boundary: str = "b0undary") -> tuple[bytes, dict[str, str]]:
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{file_name}"\r\n'
        f"Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n"
        for name, file_name, data in parts) + f"--{boundary}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


@pytest.mark.parametrize(("body", "content_type", "status", "code"), [
    (*multipart(("file", "a.md", b"# A\nalpha"), ("file", "b.md", b"# B\nbravo")), 400, "too_many_files"),
    (b"# just text", {"Content-Type": "text/markdown"}, 422, "validation_error"),
    (*multipart(("document", "a.md", b"# A\nalpha")), 422, "validation_error"),
    (b"--b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.md\"\r\n\r\n# cut off",
     {"Content-Type": "multipart/form-data; boundary=b0undary"}, 400, "invalid_multipart"),
    (b"--b0undary\r\n" + b"X-Junk: " + b"j" * 10_000 + b"\r\n\r\n",
     {"Content-Type": "multipart/form-data; boundary=b0undary"}, 400, "invalid_multipart"),
], ids=["two-files", "not-multipart", "no-file-part", "no-closing-boundary", "huge-part-header"])
def test_hostile_uploads_are_refused_and_store_nothing(client: TestClient, body, content_type, status, code) -> None:
    response = client.post("/rag/documents", content=body, headers=content_type)
    assert (response.status_code, error_code(response)) == (status, code), response.text
    assert listed(client) == []


def test_uploads_are_refused_at_the_advertised_limit(tmp_path: Path) -> None:
    with TestClient(make_app(tmp_path, RAG_MAX_FILE_BYTES=1000), base_url=BASE) as c:
        assert c.get("/rag/config").json()["max_upload_bytes"] == 1000
        at_limit = c.post("/rag/documents", files={"file": ("at.txt", b"a" * 1000)})
        assert at_limit.status_code == 201, at_limit.text
        over = c.post("/rag/documents", files={"file": ("over.txt", b"a" * 1001)})
        assert over.status_code == 413 and error_code(over) == "file_too_large"
        assert "1,000" in over.json()["error"]["message"]
        assert listed(c) == ["at.txt"]


# --- bodies over the limit, against a real server ------------------------------------------------


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


class RssPeak:
    """The highest resident size of this process (server thread included) while in the block."""

    def __enter__(self) -> RssPeak:
        self.start = self.peak = _rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _watch(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, _rss_bytes())

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth(self) -> int:
        return self.peak - self.start


def send_large(url: str, path: str, headers: dict[str, str], total: int, *, chunked: bool,
               prefix: bytes = b"") -> tuple[int, int]:
    """POST `total` bytes (from one reused 1 MiB block) until the server answers or hangs up;
    (HTTP status, bytes the client managed to send)."""
    host, port = url.removeprefix("http://").split(":")
    block = b"x" * (1 << 20)
    framing = {"Transfer-Encoding": "chunked"} if chunked else {"Content-Length": str(total)}
    head = "".join(f"{k}: {v}\r\n" for k, v in {"Host": f"{host}:{port}", **headers, **framing}.items())
    sock = socket.create_connection((host, int(port)))
    sock.settimeout(10)
    sent = 0
    try:
        sock.sendall(f"POST {path} HTTP/1.1\r\n{head}\r\n".encode())
        pieces = [prefix] if prefix else []
        while sent < total:
            if select.select([sock], [], [], 0)[0]:
                break  # the server has answered: stop sending
            piece = pieces.pop() if pieces else block[: min(len(block), total - sent)]
            sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            sent += len(piece)
    except (BrokenPipeError, ConnectionResetError, TimeoutError):
        pass  # refused mid-body: what we want; the answer is in the socket's buffer
    answer = b""
    try:
        while b"\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    finally:
        sock.close()
    assert answer.startswith(b"HTTP/1.1 "), answer[:200]
    return int(answer.split()[1]), sent


MB = 1 << 20
HUGE = 300 * MB


def test_a_file_of_a_type_we_do_not_read_is_refused_before_its_bytes_are(tmp_path: Path) -> None:
    boundary = "b0undary"
    prefix = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="video.mp4"\r\n\r\n').encode()
    with serving(make_app(tmp_path)) as url:  # the default 50 MB limit
        status, sent = send_large(url, "/rag/documents", {
            "Content-Type": f"multipart/form-data; boundary={boundary}"}, 48 * MB, chunked=False, prefix=prefix)
    assert status == 415
    assert sent < 24 * MB, sent  # kernel buffers, not a body the server read


def test_the_servers_limits_close_idle_connections_and_cap_headers(tmp_path: Path) -> None:
    from rag_assistant.api.app import SERVER_LIMITS

    with serving(make_app(tmp_path), **SERVER_LIMITS) as url:
        host, port = url.removeprefix("http://").split(":")
        request = f"GET /healthz HTTP/1.1\r\nHost: {host}:{port}\r\n".encode()
        with socket.create_connection((host, int(port))) as sock:
            sock.settimeout(SERVER_LIMITS["timeout_keep_alive"] + 5)
            sock.sendall(request + b"\r\n")
            answer = b""
            while not answer.endswith(b"}"):  # headers, then the JSON body (maybe in two reads)
                piece = sock.recv(4096)
                assert piece, answer
                answer += piece
            assert answer.startswith(b"HTTP/1.1 200") and b'"status":"ok"' in answer
            # Kept alive, then idle: the server hangs up (recv returns b"", not a timeout).
            assert sock.recv(4096) == b""
        with socket.create_connection((host, int(port))) as sock:
            sock.settimeout(10)
            sock.sendall(request + b"X-Padding: " + b"a" * (SERVER_LIMITS["h11_max_incomplete_event_size"] + 1))
            assert sock.recv(4096).startswith(b"HTTP/1.1 400")


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_300_mb_question_is_refused_before_it_is_read(tmp_path: Path, chunked: bool) -> None:
    with serving(make_app(tmp_path)) as url, RssPeak() as rss:
        status, sent = send_large(url, "/rag/query", {"Content-Type": "application/json"}, HUGE, chunked=chunked,
                                  prefix=b'{"question": "')
    assert status == 413
    # Refused at the headers (Content-Length) or after the first 16 KB: what the client got
    # into the socket before the answer is kernel buffers, not a body the server read.
    assert sent < 64 * MB, sent
    assert rss.growth < 50 * MB, f"RSS grew by {rss.growth / MB:.0f} MB while a 300 MB body was refused"


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_300_mb_upload_is_refused_while_it_streams(tmp_path: Path, chunked: bool) -> None:
    boundary = "b0undary"
    prefix = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="huge.txt"\r\n\r\n').encode()
    with serving(make_app(tmp_path, RAG_MAX_FILE_BYTES=2 * MB)) as url, RssPeak() as rss:
        started = time.monotonic()
        status, sent = send_large(url, "/rag/documents", {
            "Content-Type": f"multipart/form-data; boundary={boundary}"}, HUGE, chunked=chunked, prefix=prefix)
        seconds = time.monotonic() - started
    assert status == 413
    assert sent < 64 * MB, sent
    assert rss.growth < 50 * MB, f"RSS grew by {rss.growth / MB:.0f} MB"
    assert seconds < 60
