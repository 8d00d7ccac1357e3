"""The web page end to end in a real headless Chromium (Debian's package, driven by
Playwright): upload a NIST PDF, wait until it is indexed, ask, open a citation."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import ZERO_TRUST_PDF
from http_support import serving

from rag_assistant.api.app import create_app
from rag_assistant.bootstrap import create_service
from rag_assistant.config import Settings

CHROMIUM = os.environ.get("RAG_CHROMIUM", "/usr/bin/chromium")
# Chromium's background services try the network, which this machine (and CI) does not have.
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture()
def server_url(tmp_path: Path, minilm):
    config = Settings(RAG_DATA_DIR=tmp_path / "data", LLM_PROVIDER="extractive")
    with serving(create_app(lambda: create_service(config, embedder=minilm))) as url:
        yield url


@pytest.fixture()
def page(tmp_path: Path):
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM}: run `make test` (it installs it) "
                    "or set RAG_CHROMIUM")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                    env={**os.environ, "HOME": str(tmp_path)})
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        # The page must run under its strict Content-Security-Policy: any refusal is a failure.
        page.on("console", lambda msg: errors.append(msg.text)
                if msg.type == "error" and "Content Security Policy" in msg.text else None)
        yield page
        page.screenshot(path=str(tmp_path / "last.png"), full_page=True)
        browser.close()
        assert errors == [], f"JavaScript or CSP errors on the page: {errors}"


def test_upload_index_ask_and_open_a_citation(server_url: str, page) -> None:
    page.goto(server_url)
    page.wait_for_selector("#server-info:has-text('Embedding')")
    # The document list arrives by its own request: wait for it (fails if it never shows).
    page.locator("#documents-empty").wait_for(state="visible", timeout=30_000)

    page.set_input_files("#file-input", str(ZERO_TRUST_PDF))
    upload = page.locator("#uploads li").first
    upload.locator(".msg:has-text('Indexed')").wait_for(timeout=180_000)
    row = page.locator("#documents tbody tr", has_text=ZERO_TRUST_PDF.name)
    row.wait_for()
    assert row.locator("td.status-ready").inner_text() == "ready"
    assert row.locator("td.num").nth(1).inner_text() == "59"

    page.fill("#question", "What are the tenets of zero trust?")
    page.click("#ask-button")
    page.wait_for_selector("#answer:not([hidden])", timeout=60_000)
    assert "tenets" in page.inner_text("#answer-text").lower()
    citation = page.locator("#answer-text .cite").first
    citation.click()
    detail = page.locator("#source-detail")
    detail.wait_for(state="visible")
    assert ZERO_TRUST_PDF.name in detail.locator("#detail-title").inner_text()
    assert "page" in detail.locator("#detail-where").inner_text()
    assert detail.locator("mark").count() >= 1  # the quoted sentence is highlighted

    # Korean text round-trips through the page.
    page.fill("#question", "제로 트러스트의 원칙은 무엇인가요?")
    page.click("#ask-button")
    # (No wait_for_function: the page's CSP forbids the eval Playwright would need.)
    page.wait_for_selector("#ask-button:not([disabled])")
    assert page.inner_text("#answer-text").strip()


def test_the_api_docs_render_offline_from_the_server_alone(server_url: str, page) -> None:
    """Swagger UI at /docs runs from this server's own files under its strict policy: no
    CDN (the machine may be offline, and no third-party script may run beside the key)."""
    elsewhere: list[str] = []

    def only_this_server(route) -> None:
        if route.request.url.startswith(server_url):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_this_server)
    page.goto(f"{server_url}/docs")
    page.locator(".swagger-ui .info .title").wait_for(timeout=30_000)
    assert "Serverless RAG Assistant" in page.inner_text(".swagger-ui .info .title")
    page.locator(".opblock-summary-path", has_text="/rag/query").first.wait_for()
    assert elsewhere == []


def test_rejected_upload_and_delete(server_url: str, page, tmp_path: Path) -> None:
    bad = tmp_path / "broken.pdf"
    bad.write_bytes(b"PK\x03\x04 this is a docx")
    good = tmp_path / "메모.md"
    good.write_text("# 회의록\n제로 트러스트 도입 일정을 논의했습니다.", encoding="utf-8")
    page.goto(server_url)
    page.wait_for_selector("#server-info:has-text('Embedding')")
    page.set_input_files("#file-input", [str(bad), str(good)])
    page.locator("#uploads .msg.bad", has_text="not a PDF").wait_for(timeout=60_000)
    row = page.locator("#documents tbody tr", has_text="메모.md")
    row.wait_for(timeout=60_000)
    page.on("dialog", lambda dialog: dialog.accept())
    row.locator("button.delete").click()
    row.wait_for(state="detached")
    # The failed upload is listed with its reason; deleting the good one left it alone.
    failed = page.locator("#documents tbody tr", has_text="broken.pdf")
    assert "not a PDF" in failed.inner_text()


def test_a_bracketed_number_quoted_from_a_document_is_not_a_citation(tmp_path: Path, page) -> None:
    from rag_assistant.embedding.hashing import HashingEmbedder

    # The document says "... two o'clock [2].": that [2] is its own reference mark, not source 2
    # (another file, which the answer does not cite). The answerer drops it from the answer text
    # and the page makes buttons of cited sources only.
    config = Settings(RAG_DATA_DIR=tmp_path / "data", LLM_PROVIDER="extractive")
    service = create_service(config, embedder=HashingEmbedder())
    service.ingest_bytes("upload:///backup.md", "backup.md", b"# Backups\nThe nightly backup runs at two o'clock [2].\n")
    service.ingest_bytes("upload:///pets.md", "pets.md", b"# Pets\nThe office cat sleeps on the warm printer.\n")
    with serving(create_app(lambda: service)) as url:
        page.goto(url)
        page.wait_for_selector("#documents tbody tr")
        page.fill("#question", "When does the nightly backup run?")
        page.click("#ask-button")
        page.wait_for_selector("#answer-text:has-text('two o')")
        assert "[2]" not in page.inner_text("#answer-text")
        buttons = page.locator("#answer-text button.cite")
        assert [buttons.nth(i).inner_text() for i in range(buttons.count())] == ["[1]"]
        assert buttons.first.get_attribute("title") == "backup.md"

def test_token_protected_server_the_page_asks_once_and_keeps_the_key(tmp_path: Path, page) -> None:
    from rag_assistant.api.local_security import LocalSecurity
    from rag_assistant.embedding.hashing import HashingEmbedder

    token = "local-token-for-the-page-test"
    config = Settings(RAG_DATA_DIR=tmp_path / "data", LLM_PROVIDER="extractive")
    app = create_app(lambda: create_service(config, embedder=HashingEmbedder()), security=LocalSecurity(token=token))
    note = tmp_path / "note.md"
    note.write_text("# Backups\nThe nightly backup runs at two o'clock.", encoding="utf-8")
    with serving(app) as url:
        page.goto(url)
        page.wait_for_selector("#key-form:not([hidden])")  # /rag/config said writes need a key
        page.set_input_files("#file-input", str(note))
        page.locator("#uploads .msg.bad").wait_for()
        assert "API token" in page.inner_text("#uploads .msg.bad")
        assert "needs the API key" in page.inner_text("#key-status")

        page.fill("#api-key", token)
        page.click("#key-save")
        page.set_input_files("#file-input", str(note))
        page.locator("#uploads .msg:has-text('Indexed')").wait_for()
        # Kept in this browser, not in the page: a reload still has it, the HTML never does.
        page.reload()
        page.wait_for_selector("#documents tbody tr")
        assert token not in page.content()
        page.on("dialog", lambda dialog: dialog.accept())
        page.locator("#documents tbody tr button.delete").click()
        page.locator("#documents tbody tr").wait_for(state="detached")
        page.click("#key-forget")
        assert page.evaluate("localStorage.getItem('rag-assistant-api-key')") is None



def test_a_key_no_browser_can_send_is_refused_and_the_page_keeps_working(tmp_path: Path, page) -> None:
    from rag_assistant.api.local_security import LocalSecurity
    from rag_assistant.embedding.hashing import HashingEmbedder

    # curl can send this token's UTF-8 bytes; a browser's fetch refuses any header beyond
    # latin-1, so a saved copy would break every request of the page, listing included.
    token = "비밀-토큰-for-the-page-test"
    config = Settings(RAG_DATA_DIR=tmp_path / "data", LLM_PROVIDER="extractive")
    app = create_app(lambda: create_service(config, embedder=HashingEmbedder()), security=LocalSecurity(token=token))
    with serving(app) as url:
        page.goto(url)
        page.wait_for_selector("#key-form:not([hidden])")
        page.fill("#api-key", token)
        page.click("#key-save")
        page.wait_for_selector("#key-status:has-text('ASCII')")
        assert page.evaluate("localStorage.getItem('rag-assistant-api-key')") is None
        page.reload()
        page.locator("#documents-empty:has-text('No documents yet')").wait_for(timeout=30_000)

# --- the same page on the AWS shape: API Gateway + the Lambda handlers, DynamoDB Local, moto S3 ---

API_KEY = "aws-page-test-key-0123456789"


@pytest.fixture()
def aws_site(lambda_env, monkeypatch):
    """The deployed shape, locally: returns a function that starts it with an auth scope."""
    from contextlib import ExitStack

    from apigw_local import local_aws
    from lambda_support import reset_handlers

    from rag_assistant.aws import runtime

    stack = ExitStack()

    def start(auth_scope: str):
        monkeypatch.setenv("RAG_AUTH_SCOPE", auth_scope)
        runtime.reset()
        reset_handlers()
        url, gateway = stack.enter_context(local_aws(lambda_env["s3"], lambda_env["bucket"], api_key=API_KEY,
                                                     auth_scope=auth_scope))
        # What the stack's bucket CORS allows: PUTs from the page's origin (rag_stack/storage.py).
        lambda_env["s3"].put_bucket_cors(Bucket=lambda_env["bucket"], CORSConfiguration={"CORSRules": [{
            "AllowedMethods": ["PUT"], "AllowedOrigins": [url], "AllowedHeaders": ["Content-Type", "If-None-Match"],
            "MaxAgeSeconds": 3000}]})
        return url, gateway

    with stack:
        yield start


def test_on_aws_the_page_uploads_presigned_lists_asks_and_deletes_with_the_api_key(
        aws_site, page, tmp_path: Path, lambda_env) -> None:
    url, gateway = aws_site("writes")
    note = tmp_path / "rollback.md"
    note.write_text("# Rollback\nTo roll back a release, redeploy the previous version from the pipeline.",
                    encoding="utf-8")
    page.goto(f"{url}/prod")  # the stage without its slash: redirected, so relative links work
    assert page.url == f"{url}/prod/"
    page.wait_for_selector("#server-info:has-text('Embedding')")
    assert page.locator("#key-form").is_visible()  # /rag/config: writes need a key
    page.wait_for_selector("#documents-empty:not([hidden])")  # reads are open

    # Without the key, the gateway refuses the upload URL; the page asks for the key.
    page.set_input_files("#file-input", str(note))
    page.locator("#uploads .msg.bad").wait_for()
    assert "API key" in page.inner_text("#uploads .msg.bad")
    assert "needs the API key" in page.inner_text("#key-status")

    page.fill("#api-key", API_KEY)
    page.click("#key-save")
    page.set_input_files("#file-input", str(note))
    page.locator("#uploads .msg:has-text('indexing in the background')").wait_for(timeout=60_000)
    row = page.locator("#documents tbody tr", has_text="rollback.md")
    row.locator("td.status-ready").wait_for(timeout=120_000)  # S3 told the upload function; the page polled
    (key,) = [o["Key"] for o in lambda_env["s3"].list_objects_v2(Bucket=lambda_env["bucket"])["Contents"]]
    assert key.startswith("uploads/") and key.endswith("/rollback.md")

    page.fill("#question", "How do I roll back a release?")
    page.click("#ask-button")
    page.wait_for_selector("#answer:not([hidden])", timeout=120_000)
    assert "previous version" in page.inner_text("#answer-text")
    assert "rollback.md" in page.inner_text("#sources")

    page.on("dialog", lambda dialog: dialog.accept())
    row.locator("button.delete").click()
    row.wait_for(state="detached", timeout=60_000)
    assert lambda_env["s3"].list_objects_v2(Bucket=lambda_env["bucket"]).get("KeyCount") == 0
    assert token_free(page.content())
    routes = {(function, method, path) for function, method, path in gateway.invocations}
    assert {("documents", "GET", "/"), ("documents", "GET", "/static/app.js"), ("query", "GET", "/rag/config"),
            ("documents", "POST", "/rag/documents/upload-url"), ("query", "POST", "/rag/query")} <= routes
    assert ("documents", "DELETE", next(p for f, m, p in routes if m == "DELETE")) in routes


def token_free(html: str) -> bool:
    return API_KEY not in html


def test_on_aws_with_every_route_keyed_the_page_asks_before_listing(aws_site, page) -> None:
    url, _ = aws_site("all")
    page.goto(f"{url}/prod/")
    page.wait_for_selector("#key-status:has-text('needs the API key')")
    assert page.locator("#documents-empty").inner_text().startswith("this route needs the API key")
    page.fill("#api-key", API_KEY)
    page.click("#key-save")
    page.wait_for_selector("#documents-empty:has-text('No documents yet')")
