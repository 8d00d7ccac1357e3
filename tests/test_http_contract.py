"""One HTTP contract, two homes: the same requests — hostile ones included — sent to the FastAPI
app (TestClient, SQLite) and to the Lambda functions (Powertools, API Gateway proxy events,
DynamoDB Local and moto) must get the same status, the same JSON and the same headers that
matter. Neither may answer 5xx to anything a client sends."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from lambda_support import api_event, invoke_api, reset_handlers

from rag_assistant.api.app import create_app
from rag_assistant.api.local_security import LocalSecurity
from rag_assistant.api.routes import find_route
from rag_assistant.bootstrap import create_service
from rag_assistant.config import Settings
from rag_assistant.embedding.hashing import HashingEmbedder

EMBEDDER = "test/hashing-64"
TOKEN = "contract-test-token"
LOCAL_HOST = "127.0.0.1:8000"
#: Headers whose values must agree (the CSP differs on purpose: the documents function names S3).
COMPARED_HEADERS = ("access-control-allow-origin", "retry-after", "x-content-type-options", "x-frame-options",
                    "referrer-policy")


@dataclass(frozen=True)
class Case:
    id: str
    method: str
    path: str
    body: bytes | None = None
    query: dict[str, str] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    expect: int | None = None  # the status both must give (None: any non-5xx, but the same)


def _cursor(*values: str) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(values)).encode()).decode().rstrip("=")


QUERY, DOCS = "/rag/query", "/rag/documents"
CASES = [
    # Hostile JSON: each used to be a 500 on Lambda or a full parse locally.
    Case("deep-nesting", "POST", QUERY, b"[" * 5000 + b"]" * 5000, expect=400),
    Case("deep-object", "POST", QUERY, b'{"question": ' + b'{"a": ' * 200 + b"1" + b"}" * 201, expect=400),
    Case("5000-digit-integer", "POST", QUERY, b'{"question": "q", "top_k": ' + b"7" * 5000 + b"}", expect=400),
    Case("5000-digit-float", "POST", QUERY, b'{"question": "q", "top_k": 0.' + b"7" * 5000 + b"}", expect=400),
    Case("invalid-utf8", "POST", QUERY, b'{"question": "caf\xe9 \xff\xfe"}', expect=400),
    Case("lone-surrogate-escape", "POST", QUERY, b'{"question": "\\ud800"}', expect=422),
    Case("nan", "POST", QUERY, b'{"question": "q", "top_k": NaN}', expect=400),
    Case("not-json", "POST", QUERY, b"question=what", expect=400),
    Case("truncated", "POST", QUERY, b'{"question": ', expect=400),
    Case("oversized", "POST", QUERY, b'{"question": "' + b"x" * 20_000 + b'"}', expect=413),
    # Wrong types: top_k is an integer, not a bool, a string or a float.
    Case("top_k-true", "POST", QUERY, b'{"question": "q", "top_k": true}', expect=422),
    Case("top_k-string", "POST", QUERY, b'{"question": "q", "top_k": "3"}', expect=422),
    Case("top_k-float", "POST", QUERY, b'{"question": "q", "top_k": 3.0}', expect=422),
    Case("top_k-huge", "POST", QUERY, b'{"question": "q", "top_k": 1' + b"0" * 30 + b"}", expect=422),
    Case("top_k-zero", "POST", QUERY, b'{"question": "q", "top_k": 0}', expect=422),
    Case("question-number", "POST", QUERY, b'{"question": 42}', expect=422),
    Case("question-list", "POST", QUERY, b'{"question": ["a"]}', expect=422),
    Case("question-blank", "POST", QUERY, b'{"question": "   "}', expect=422),
    Case("question-too-long", "POST", QUERY, json.dumps({"question": "가" * 2001}).encode(), expect=422),
    Case("extra-field", "POST", QUERY, b'{"question": "q", "admin": true}', expect=422),
    Case("array-body", "POST", QUERY, b'["question"]', expect=422),
    Case("null-body", "POST", QUERY, b"null", expect=422),
    Case("empty-body", "POST", QUERY, None, expect=422),
    Case("question-ok", "POST", QUERY, json.dumps({"question": "제로 트러스트란?", "top_k": 3}).encode(), expect=200),
    # Listing parameters and cursors.
    Case("list", "GET", DOCS, expect=200),
    Case("limit-100", "GET", DOCS, query={"limit": "100"}, expect=200),
    Case("limit-zero", "GET", DOCS, query={"limit": "0"}, expect=422),
    Case("limit-bool", "GET", DOCS, query={"limit": "true"}, expect=422),
    Case("limit-float", "GET", DOCS, query={"limit": "1.0"}, expect=422),
    Case("limit-digits", "GET", DOCS, query={"limit": "9" * 5000}, expect=422),
    Case("cursor-garbage", "GET", DOCS, query={"cursor": "garbage!"}, expect=400),
    Case("cursor-crafted-empty", "GET", DOCS, query={"cursor": _cursor("", "")}, expect=400),
    Case("cursor-crafted-surrogate", "GET", DOCS, query={"cursor": base64.urlsafe_b64encode(
        b'["2026-01-01", "\\ud800"]').decode()}, expect=400),
    Case("cursor-crafted-wrong-arity", "GET", DOCS, query={"cursor": _cursor("a", "b", "c")}, expect=400),
    Case("cursor-too-long", "GET", DOCS, query={"cursor": "a" * 1001}, expect=422),
    # Document ids.
    Case("get-missing", "GET", f"{DOCS}/doc_0000000000000000dead", expect=404),
    Case("delete-missing", "DELETE", f"{DOCS}/doc_0000000000000000dead", headers={"X-Api-Key": TOKEN}, expect=404),
    Case("id-too-long", "GET", f"{DOCS}/{'d' * 201}", expect=422),
    Case("id-korean", "GET", f"{DOCS}/문서", expect=404),
    Case("id-quote", "GET", f'{DOCS}/a"b', expect=422),
    Case("id-backslash", "DELETE", f"{DOCS}/a\\b", headers={"X-Api-Key": TOKEN}, expect=422),
    # Routes and methods.
    Case("unknown-route", "GET", "/rag/nothing-here", expect=404),
    Case("wrong-method", "PUT", DOCS, expect=405),
    Case("query-by-get", "GET", QUERY, expect=405),
    # Browsers from other sites.
    Case("evil-preflight", "OPTIONS", QUERY, headers={"Origin": "https://evil.example",
                                                      "Access-Control-Request-Method": "POST"}, expect=403),
    Case("evil-origin-post", "POST", QUERY, b'{"question": "q"}', headers={"Origin": "https://evil.example"},
         expect=403),
    Case("evil-origin-delete", "DELETE", f"{DOCS}/doc_x", headers={"Origin": "https://evil.example",
                                                                   "X-Api-Key": TOKEN}, expect=403),
    Case("null-origin", "GET", DOCS, headers={"Origin": "null"}, expect=403),
    Case("config", "GET", "/rag/config", expect=200),
]


@pytest.fixture()
def local_client(tmp_path: Path):
    settings = Settings(RAG_DATA_DIR=tmp_path / "data", LLM_PROVIDER="extractive", EMBEDDING_MODEL_NAME=EMBEDDER)
    security = LocalSecurity(token=TOKEN)
    app = create_app(lambda: create_service(settings, embedder=HashingEmbedder()), security=security, warm_up=False)
    with TestClient(app, base_url=f"http://{LOCAL_HOST}", raise_server_exceptions=False) as client:
        yield client


@pytest.fixture()
def lambda_api(lambda_env, monkeypatch):
    from rag_assistant.aws import runtime

    monkeypatch.setenv("EMBEDDING_MODEL_NAME", EMBEDDER)
    runtime.reset()
    reset_handlers()
    return lambda_env


def call_local(client: TestClient, case: Case) -> tuple[int, object, dict[str, str]]:
    response = client.request(case.method, case.path, content=case.body, params=case.query,
                              headers={"Content-Type": "application/json", **case.headers})
    return response.status_code, _json(response.content), {k.lower(): v for k, v in response.headers.items()}


def call_lambda(case: Case) -> tuple[int, object, dict[str, str]]:
    route = find_route(case.method, case.path, "aws")
    function = route.function if route and route.function else "documents"
    event = api_event(case.method, case.path, query=case.query, raw=case.body, headers=case.headers)
    status, body, headers = invoke_api(function, event)
    return status, body or None, headers


def _json(content: bytes) -> object:
    return json.loads(content) if content else None


def comparable(body: object, case: Case) -> object:
    """What must be equal: all of it, but for timings and the upload mode, which differ by design."""
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if k not in ("timings_ms", "upload_mode")}
    return body


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_both_adapters_answer_alike(case: Case, local_client: TestClient, lambda_api) -> None:
    local_status, local_body, local_headers = call_local(local_client, case)
    aws_status, aws_body, aws_headers = call_lambda(case)
    assert local_status < 500 and aws_status < 500, (local_body, aws_body)
    assert (local_status, comparable(local_body, case)) == (aws_status, comparable(aws_body, case))
    if case.expect is not None:
        assert local_status == case.expect, local_body
    if local_status >= 400:
        assert set(local_body) == {"error"} and local_body["error"]["code"] and local_body["error"]["message"]
    for name in COMPARED_HEADERS:
        assert local_headers.get(name) == aws_headers.get(name), name
    for headers in (local_headers, aws_headers):
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        if case.path.startswith("/rag/") and case.path != "/rag/query":  # answers stream with no-cache
            assert headers["cache-control"] == "no-store", case.path  # the team's documents stay out of caches


def test_config_reports_who_answers_the_same_way(local_client: TestClient, lambda_api) -> None:
    local = local_client.get("/rag/config").json()
    status, aws, _ = invoke_api("query", api_event("GET", "/rag/config"))
    assert status == 200
    assert (local["upload_mode"], aws["upload_mode"]) == ("direct", "presigned")
    assert local["generator"] == aws["generator"] == "extractive"
    assert local["auth"] == aws["auth"] == {"scope": "writes", "header": "X-Api-Key"}


UPLOAD_URL = "/rag/documents/upload-url"
HOSTILE_UPLOAD_URL_BODIES = [
    (b"[" * 5000 + b"]" * 5000, 400, "invalid_json"),
    (b'{"file_name": "a.pdf", "size_bytes": ' + b"9" * 5000 + b"}", 400, "invalid_json"),
    (b'{"file_name": "a.pdf", "size_bytes": true}', 422, "validation_error"),
    (b'{"file_name": "a.pdf", "size_bytes": "10"}', 422, "validation_error"),
    (b'{"file_name": "a.pdf", "size_bytes": 10.0}', 422, "validation_error"),
    (b'{"file_name": 7, "size_bytes": 10}', 422, "validation_error"),
    (b'{"file_name": "a.pdf", "size_bytes": 10, "key": "other/x.pdf"}', 422, "validation_error"),
    (b'{"file_name": "\xff.pdf", "size_bytes": 10}', 400, "invalid_json"),
    (b'{"file_name": "' + b"a" * 20_000 + b'.pdf", "size_bytes": 10}', 413, "body_too_large"),
]


@pytest.mark.parametrize(("raw", "status", "code"), HOSTILE_UPLOAD_URL_BODIES,
                         ids=["deep", "digits", "bool", "string", "float", "name-type", "extra-key", "utf8", "oversized"])
def test_upload_url_refuses_hostile_bodies_without_a_500(lambda_api, raw: bytes, status: int, code: str) -> None:
    """The route exists on AWS only (locally files come as multipart, tests/test_local_security.py)."""
    got, body, _ = invoke_api("documents", api_event("POST", UPLOAD_URL, raw=raw))
    assert (got, body["error"]["code"]) == (status, code), body


def test_busy_document_is_a_retryable_conflict_with_retry_after(tmp_path: Path) -> None:
    from rag_assistant.bootstrap import create_store
    from rag_assistant.sources import document_id_for, upload_source

    settings = Settings(RAG_DATA_DIR=tmp_path / "data", LLM_PROVIDER="extractive")
    app = create_app(lambda: create_service(settings, embedder=HashingEmbedder()), warm_up=False)
    with TestClient(app, base_url=f"http://{LOCAL_HOST}") as client:
        # Another worker (here: a second connection to the same index) is indexing busy.md.
        other = create_store(settings)
        source, _ = upload_source("busy.md", b"# Busy\nbeing indexed")
        assert other.lock_document(document_id_for(source), "another-worker", 60)
        try:
            response = client.post("/rag/documents", files={"file": ("busy.md", b"# Busy\nbeing indexed")})
        finally:
            other.close()
    assert response.status_code == 409 and response.headers["retry-after"] == "5"
    assert response.json()["error"]["code"] == "document_busy"


def test_every_error_code_of_the_service_has_its_status_in_the_one_table() -> None:
    from rag_assistant import errors
    from rag_assistant.api.contract import STATUS_BY_CODE

    def subclasses(cls: type) -> list[type]:
        return [cls, *(s for sub in cls.__subclasses__() for s in subclasses(sub))]

    codes = {cls.code for cls in subclasses(errors.RagError) if cls is not errors.RagError}
    assert {"too_complex", "timeout", "server_busy", "superseded", "document_busy"} <= codes
    assert codes - set(STATUS_BY_CODE) == set()
    assert (STATUS_BY_CODE["superseded"], STATUS_BY_CODE["server_busy"], STATUS_BY_CODE["too_complex"]) == (409, 503, 422)


def test_an_upload_past_the_full_ingestion_queue_is_a_retryable_503(tmp_path: Path) -> None:
    import threading

    settings = Settings(RAG_DATA_DIR=tmp_path / "data", LLM_PROVIDER="extractive", RAG_INGEST_WORKERS=1,
                        RAG_INGEST_QUEUE=0, RAG_PARSE_ISOLATION="none")
    embedder = HashingEmbedder()
    entered, release = threading.Event(), threading.Event()
    original = embedder.embed_documents

    def embed(texts):
        entered.set()
        assert release.wait(30)
        return original(texts)

    services = []
    app = create_app(lambda: services.append(create_service(settings, embedder=embedder)) or services[-1],
                     warm_up=False)
    with TestClient(app, base_url=f"http://{LOCAL_HOST}") as client:
        assert client.get("/rag/documents").status_code == 200  # the service is made on first use
        (service,) = services
        embedder.embed_documents = embed
        running = threading.Thread(target=service.ingest_bytes, args=("upload:///slow.md", "slow.md", b"# Slow\ntext"))
        running.start()
        try:
            assert entered.wait(30)  # the one worker is busy, and no upload may wait
            response = client.post("/rag/documents", files={"file": ("next.md", b"# Next\nturned away")})
        finally:
            release.set()
            running.join(30)
        listed = client.get("/rag/documents").json()
    assert response.status_code == 503 and response.headers["retry-after"] == "5", response.text
    assert response.json()["error"]["code"] == "server_busy"
    assert [d["file_name"] for d in listed["documents"]] == ["slow.md"]  # nothing recorded for next.md
