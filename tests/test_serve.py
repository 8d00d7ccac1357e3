"""`rag serve` as a user starts it: a real process answering on a real port."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from http_support import free_port

# A real `rag serve` process.
pytestmark = pytest.mark.slow


def test_rag_serve_serves_the_page_and_api_on_loopback(tmp_path: Path, model_cache: Path) -> None:
    port = free_port()
    env = dict(os.environ, RAG_DATA_DIR=str(tmp_path), RAG_CACHE_DIR=str(model_cache), LLM_PROVIDER="extractive")
    process = subprocess.Popen(
        [sys.executable, "-m", "rag_assistant", "serve", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as r:
                    assert r.status == 200
                    break
            except OSError:
                assert process.poll() is None, process.stdout.read()
                assert time.monotonic() < deadline, "rag serve did not come up"
                time.sleep(0.2)
        with urllib.request.urlopen(base + "/", timeout=5) as r:
            assert "RAG Assistant" in r.read().decode()
        with urllib.request.urlopen(base + "/rag/documents", timeout=5) as r:
            assert r.read() == b'{"documents":[],"next_cursor":null}'
    finally:
        process.terminate()
        process.wait(10)
