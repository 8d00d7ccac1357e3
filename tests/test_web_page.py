"""The web page end to end in a real headless Chromium (Debian's package, driven by
Playwright): upload a NIST PDF, wait until it is indexed, ask, open a citation."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import pytest
import uvicorn

from conftest import ZERO_TRUST_PDF
from rag_assistant.api.app import create_app
from rag_assistant.bootstrap import create_service
from rag_assistant.config import Settings

CHROMIUM = os.environ.get("RAG_CHROMIUM", "/usr/bin/chromium")
# Chromium's background services try the network, which this machine (and CI) does not have.
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def server_url(tmp_path: Path, minilm):
    config = Settings(RAG_DATA_DIR=tmp_path / "data", LLM_PROVIDER="extractive")
    app = create_app(lambda: create_service(config, embedder=minilm))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


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
        yield page
        page.screenshot(path=str(tmp_path / "last.png"), full_page=True)
        browser.close()
        assert errors == [], f"JavaScript errors on the page: {errors}"


def test_upload_index_ask_and_open_a_citation(server_url: str, page) -> None:
    page.goto(server_url)
    page.wait_for_selector("#server-info:has-text('Embedding')")
    assert page.locator("#documents-empty").is_visible()

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
    page.wait_for_function("document.querySelector('#ask-button').textContent === 'Ask'")
    assert page.inner_text("#answer-text").strip()


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
