"""The HTTP API over a real service (real model, real index), through FastAPI's TestClient."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SSDF_PDF, ZERO_TRUST_PDF
from fastapi.testclient import TestClient
from pdf_factory import pageless_pdf, truncated_pdf

from rag_assistant.answering.base import NO_ANSWER_KO
from rag_assistant.api.app import create_app
from rag_assistant.api.contract import CorsPolicy
from rag_assistant.api.local_security import LocalSecurity
from rag_assistant.bootstrap import create_service
from rag_assistant.config import Settings

#: What a browser on the same machine sends as Host (the server refuses names it does not know).
BASE_URL = "http://127.0.0.1:8000"


def make_client(tmp_path: Path, minilm, **settings) -> TestClient:
    config = Settings(RAG_DATA_DIR=tmp_path / "data", LLM_PROVIDER="extractive", **settings)
    security = LocalSecurity(cors=CorsPolicy.from_list(config.cors_origins))
    app = create_app(lambda: create_service(config, embedder=minilm), security=security)
    return TestClient(app, base_url=BASE_URL, raise_server_exceptions=False)


@pytest.fixture()
def client(tmp_path: Path, minilm):
    with make_client(tmp_path, minilm) as c:
        yield c


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code and body["error"]["message"]
    assert "Traceback" not in response.text
    return body["error"]


def upload(client: TestClient, name: str, data: bytes, content_type: str = "application/octet-stream"):
    return client.post("/rag/documents", files={"file": (name, data, content_type)})


def test_upload_query_list_get_delete(client: TestClient) -> None:
    created = upload(client, ZERO_TRUST_PDF.name, ZERO_TRUST_PDF.read_bytes(), "application/pdf")
    assert created.status_code == 201, created.text
    document = created.json()["document"]
    assert created.json()["outcome"] == "indexed"
    assert document["status"] == "ready" and document["page_count"] == 59 and document["chunk_count"] > 50

    again = upload(client, ZERO_TRUST_PDF.name, ZERO_TRUST_PDF.read_bytes())
    assert again.status_code == 201 and again.json()["outcome"] == "unchanged"

    answer = client.post("/rag/query", json={"question": "What are the tenets of zero trust?", "top_k": 3})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["answered"] and body["generator"] == "extractive" and len(body["sources"]) == 3
    cited = [s for s in body["sources"] if s["quote"]]
    assert cited and all(s["file_name"] == ZERO_TRUST_PDF.name and s["page"] for s in cited)
    assert set(body["timings_ms"]) >= {"retrieval", "generation", "total"}

    korean = client.post("/rag/query", json={"question": "제로 트러스트의 원칙은 무엇인가요?"})
    assert korean.status_code == 200
    # MiniLM cannot read Korean and the PDF is English: the keyword side shares no terms with
    # the question, so the honest answer is the Korean "not in the documents" sentence.
    assert korean.json()["answered"] is False and korean.json()["answer"] == NO_ANSWER_KO

    doc_id = document["document_id"]
    assert client.get(f"/rag/documents/{doc_id}").json()["file_name"] == ZERO_TRUST_PDF.name
    assert client.delete(f"/rag/documents/{doc_id}").status_code == 204
    assert_error(client.get(f"/rag/documents/{doc_id}"), 404, "document_not_found")
    assert_error(client.delete(f"/rag/documents/{doc_id}"), 404, "document_not_found")


def test_documents_paginate_with_a_cursor(client: TestClient) -> None:
    for i in range(3):
        assert upload(client, f"note-{i}.md", f"# Note {i}\nText number {i}.".encode()).status_code == 201
    seen, cursor = [], None
    while True:
        params = {"limit": 1} | ({"cursor": cursor} if cursor else {})
        page = client.get("/rag/documents", params=params).json()
        assert len(page["documents"]) <= 1
        seen += [d["file_name"] for d in page["documents"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == ["note-0.md", "note-1.md", "note-2.md"] and len(set(seen)) == 3
    assert_error(client.get("/rag/documents", params={"cursor": "garbage"}), 400, "invalid_cursor")
    assert_error(client.get("/rag/documents", params={"limit": 0}), 422, "validation_error")
    assert_error(client.get("/rag/documents", params={"limit": 101}), 422, "validation_error")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ('{"question": "unterminated', 400, "invalid_json"),
        ("not json at all", 400, "invalid_json"),
        ("{}", 422, "validation_error"),
        ('{"question": ""}', 422, "validation_error"),
        ('{"question": "   "}', 422, "validation_error"),
        ('{"question": "' + "x" * 2001 + '"}', 422, "validation_error"),
        ('{"question": "ok", "top_k": 0}', 422, "validation_error"),
        ('{"question": "ok", "top_k": 21}', 422, "validation_error"),
        ('{"question": "ok", "top_k": "five"}', 422, "validation_error"),
        ('{"question": 42}', 422, "validation_error"),
        ('["question"]', 422, "validation_error"),
        ('{"question": "ok", "unknown": 1}', 422, "validation_error"),
    ],
)
def test_query_input_errors(client: TestClient, body: str, status: int, code: str) -> None:
    response = client.post("/rag/query", content=body, headers={"Content-Type": "application/json"})
    error = assert_error(response, status, code)
    if code == "validation_error":
        assert error["details"]


def test_question_too_long_says_the_limit(client: TestClient) -> None:
    error = assert_error(client.post("/rag/query", json={"question": "x" * 2001}), 422, "validation_error")
    assert "2000" in error["message"]


def test_wrong_method_and_unknown_route(client: TestClient) -> None:
    assert_error(client.get("/rag/query"), 405, "method_not_allowed")
    assert_error(client.put("/rag/documents"), 405, "method_not_allowed")
    assert_error(client.get("/rag/nothing-here"), 404, "not_found")


@pytest.mark.parametrize(
    ("name", "data", "status", "code"),
    [
        ("report.docx", b"PK\x03\x04 word", 415, "unsupported_file"),
        ("no-extension", b"text", 415, "unsupported_file"),
        ("empty.txt", b"", 422, "empty_document"),
        ("cut.pdf", None, 422, "corrupt_file"),
        ("fake.pdf", b"PK\x03\x04 docx renamed", 422, "corrupt_file"),
        pytest.param("blank.pdf", pageless_pdf(), 422, "corrupt_file", id="pageless-pdf"),
    ],
)
def test_upload_errors(client: TestClient, name: str, data: bytes | None, status: int, code: str) -> None:
    payload = truncated_pdf(SSDF_PDF) if data is None else data
    error = assert_error(upload(client, name, payload), status, code)
    assert name.split(".")[0] in error["message"] and "PDFium: Success" not in error["message"]


def test_refused_uploads_leave_no_document_but_failed_parses_do(tmp_path: Path, minilm) -> None:
    # A refusal (a type we do not read, no name, too large) answers the caller; it is not a
    # document. A file that was accepted and then failed to parse keeps its failed row.
    with make_client(tmp_path, minilm, RAG_MAX_FILE_BYTES=1000) as small:
        assert_error(upload(small, "report.docx", b"PK\x03\x04 word"), 415, "unsupported_file")
        assert_error(upload(small, "no-extension", b"text"), 415, "unsupported_file")
        assert_error(upload(small, "", b"a file sent without a name"), 415, "unsupported_file")
        assert_error(upload(small, "big.txt", b"x" * 1001), 413, "file_too_large")
        assert small.get("/rag/documents").json()["documents"] == []
        assert_error(upload(small, "fake.pdf", b"PK\x03\x04 docx renamed"), 422, "corrupt_file")
        listed = small.get("/rag/documents").json()["documents"]
        assert [(d["file_name"], d["status"]) for d in listed] == [("fake.pdf", "failed")]
        assert listed[0]["error"]


def test_upload_without_a_file_field(client: TestClient) -> None:
    assert_error(client.post("/rag/documents", data={"other": "x"}), 422, "validation_error")


def test_oversized_upload_is_refused(tmp_path: Path, minilm) -> None:
    with make_client(tmp_path, minilm, RAG_MAX_FILE_BYTES=1000) as small:
        error = assert_error(upload(small, "big.txt", b"x" * 1001), 413, "file_too_large")
        assert "1,000" in error["message"]
        assert small.get("/rag/config").json()["max_upload_bytes"] == 1000


def test_hostile_file_names_are_made_safe(client: TestClient) -> None:
    response = upload(client, "../../etc/\x00passwd\n.txt", b"some harmless text here")
    assert response.status_code == 201, response.text
    name = response.json()["document"]["file_name"]
    assert "/" not in name and "\x00" not in name and "\n" not in name and name.endswith(".txt")
    korean = upload(client, "보고서 2024 (최종).md", "# 요약\n내용입니다.".encode())
    assert korean.json()["document"]["file_name"] == "보고서 2024 (최종).md"


def raw_upload(client: TestClient, disposition: bytes, data: bytes):
    """A multipart upload whose Content-Disposition is sent byte for byte (not UTF-8, say)."""
    boundary = b"rawboundary7MA4YWxk"
    body = (b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; ' + disposition
            + b"\r\nContent-Type: text/plain\r\n\r\n" + data + b"\r\n--" + boundary + b"--\r\n")
    return client.post("/rag/documents", content=body,
                       headers={"Content-Type": f"multipart/form-data; boundary={boundary.decode()}"})


def test_undecodable_file_names_do_not_replace_each_other(client: TestClient) -> None:
    # Three different names that all read "\ufffd\ufffd.txt": Latin-1 bytes, UTF-16 bytes, and a
    # percent-encoded lone surrogate in filename*. Each stays its own document.
    sent = [(b'filename="\xe9\xe8.txt"', b"Alpha notes about herons."),
            (b'filename="\xff\xfe.txt"', b"Bravo notes about puffins."),
            (b"filename*=utf-8''%ED%A0%80.txt", b"Charlie notes about gannets.")]
    shown = []
    for disposition, data in sent:
        response = raw_upload(client, disposition, data)
        assert response.status_code == 201, response.text
        assert response.json()["outcome"] == "indexed"
        shown.append(response.json()["document"]["file_name"])
    assert len(set(shown)) == 3 and all("\ufffd" in name and name.endswith(".txt") for name in shown)
    listed = {d["file_name"] for d in client.get("/rag/documents").json()["documents"]}
    assert listed == set(shown)
    again = raw_upload(client, *sent[0])  # the same file again is the same document
    assert again.json()["outcome"] == "unchanged" and again.json()["document"]["file_name"] == shown[0]


def test_cors_default_is_same_origin_and_opening_it_is_one_setting(tmp_path: Path, minilm, client) -> None:
    preflight = client.options(
        "/rag/query",
        headers={"Origin": "https://example.org", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 403 and "access-control-allow-origin" not in preflight.headers
    with make_client(tmp_path / "restricted", minilm, CORS_ALLOWED_ORIGINS="https://app.example.com") as c:
        allowed = c.get("/healthz", headers={"Origin": "https://app.example.com"})
        assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
        assert allowed.headers["vary"] == "Origin"
        preflight = c.options("/rag/documents/x", headers={"Origin": "https://app.example.com",
                                                           "Access-Control-Request-Method": "DELETE"})
        assert preflight.status_code == 204 and "DELETE" in preflight.headers["access-control-allow-methods"]
        denied = c.get("/healthz", headers={"Origin": "https://evil.example"})
        assert denied.status_code == 403 and "access-control-allow-origin" not in denied.headers
    with make_client(tmp_path / "open", minilm, CORS_ALLOWED_ORIGINS="*") as c:
        anyone = c.get("/healthz", headers={"Origin": "https://elsewhere.example"})
        assert anyone.status_code == 200 and anyone.headers["access-control-allow-origin"] == "*"


def test_unexpected_errors_are_500_json_without_details(client: TestClient, monkeypatch) -> None:
    from rag_assistant.store.sqlite_store import SqliteVectorStore

    def broken(self, *args, **kwargs):
        raise RuntimeError("secret path /var/x")

    # Break the store underneath the running app: the client must still get clean JSON.
    monkeypatch.setattr(SqliteVectorStore, "list_documents", broken)
    error = assert_error(client.get("/rag/documents"), 500, "internal_error")
    assert "secret" not in error["message"]


def test_page_docs_and_schema_are_served(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert '<script src="static/app.js"' in page.text and "<script>" not in page.text
    assert client.get("/static/app.js").status_code == 200
    schema = client.get("/openapi.json").json()
    assert {"/rag/query", "/rag/documents", "/rag/documents/{document_id}", "/healthz"} <= set(schema["paths"])
    assert client.get("/docs").status_code == 200
    assert client.get("/healthz").json()["status"] == "ok"
