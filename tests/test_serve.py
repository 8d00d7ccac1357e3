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


def test_rag_serve_beyond_loopback_prints_a_token_and_requires_it_for_writes(tmp_path: Path, model_cache: Path) -> None:
    import json
    import urllib.error

    port = free_port()
    env = dict(os.environ, RAG_DATA_DIR=str(tmp_path), RAG_CACHE_DIR=str(model_cache), LLM_PROVIDER="extractive")
    env.pop("RAG_API_TOKEN", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "rag_assistant", "serve", "--host", "0.0.0.0", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        token = None
        for _ in range(5):
            line = process.stdout.readline()
            if "token" in line:
                token = line.rsplit(" ", 1)[-1].strip()
                break
        assert token and len(token) >= 32, "rag serve did not print a token"
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=2)
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, "rag serve did not come up"
                time.sleep(0.2)

        def delete(headers: dict[str, str]) -> tuple[int, dict]:
            request = urllib.request.Request(f"{base}/rag/documents/doc_missing", method="DELETE", headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=5) as r:
                    return r.status, {}
            except urllib.error.HTTPError as error:
                return error.code, json.loads(error.read())

        assert delete({})[0] == 401
        assert delete({"X-Api-Key": "guess"})[0] == 401
        assert delete({"X-Api-Key": token}) == (404, delete({"Authorization": f"Bearer {token}"})[1])
        with urllib.request.urlopen(f"{base}/rag/config", timeout=5) as r:
            assert json.loads(r.read())["auth"]["scope"] == "writes"
        rebound = urllib.request.Request(f"{base}/rag/documents", headers={"Host": f"attacker.example:{port}"})
        try:
            urllib.request.urlopen(rebound, timeout=5)
            raise AssertionError("a foreign Host was answered")
        except urllib.error.HTTPError as error:
            assert error.code == 400
    finally:
        process.terminate()
        process.wait(10)
