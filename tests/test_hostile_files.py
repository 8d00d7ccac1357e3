"""The standing attack suite: every hostile file of tests/hostile_files.py goes through each
door — the CLI, the HTTP server (a real `rag serve` process), the upload Lambda handler (on
DynamoDB Local and moto's S3) — and must end indexed or failed with a clear reason naming
its bound, while the server keeps answering /healthz within a second, its memory stays
within the per-document bound, and the documents already indexed stay intact.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from hostile_files import PARSE_TIMEOUT_SECONDS, HostileFile, hostile_files, write_all
from http_support import free_port
from lambda_support import invoke_upload, s3_event

from rag_assistant.config import Settings
from rag_assistant.sources import document_id_for

DEFAULTS = Settings()
NORMAL_DOC = (
    "# Rollback runbook\n\nTo roll back a release, redeploy the previous container image with the "
    "deploy pipeline and confirm the health check passes within five minutes.\n"
)
NORMAL_QUESTION = "How do I roll back a release?"
#: Growth of the server's peak RSS allowed over a whole attack: the hostile files are at most
#: 20 MB (the one-character text), so one document costs the server its bytes, their text (refused
#: past RAG_MAX_DOCUMENT_CHARS) and its chunks; the readers' memory is their own. Measured: +40 MB
#: (docs/BENCHMARKS.md, "Hostile files").
SERVER_GROWTH_BOUND_MB = 150
#: Every failure names the bound or reason in words and the setting that sets it.
EXPLAINED = {
    "too_complex": re.compile(r"(too complex|limit is|more than).*\(RAG_[A-Z_]+\)"),
    "timeout": re.compile(r"longer than \d+ s \(RAG_PARSE_TIMEOUT\)"),
}


@pytest.fixture(scope="session")
def attack() -> list[HostileFile]:
    return hostile_files(max_pages=DEFAULTS.max_pages, max_chunks=DEFAULTS.max_chunks)


def attack_environment(data_dir: Path, model_cache: Path) -> dict[str, str]:
    return dict(
        os.environ, RAG_DATA_DIR=str(data_dir), RAG_CACHE_DIR=str(model_cache), LLM_PROVIDER="extractive",
        RAG_PARSE_TIMEOUT=str(PARSE_TIMEOUT_SECONDS),
    )


def check_outcome(hostile: HostileFile, outcome: str, code: str | None, reason: str | None) -> None:
    if hostile.expect == "indexed":
        assert outcome == "indexed", f"{hostile.what}: {outcome} {code} {reason}"
    else:
        assert (outcome, code) == ("failed", hostile.expect), f"{hostile.what}: {outcome} {code} {reason}"
        assert reason and EXPLAINED[hostile.expect].search(reason), reason


@pytest.mark.slow  # the CLI runs the real model in its own process
def test_the_cli_indexes_or_refuses_each_hostile_file_and_keeps_the_rest(
    tmp_path: Path, model_cache: Path, attack: list[HostileFile]
) -> None:
    folder = tmp_path / "attack"
    write_all(folder, attack)
    (folder / "runbook.md").write_text(NORMAL_DOC)
    env = attack_environment(tmp_path / "data", model_cache)
    rag = [sys.executable, "-m", "rag_assistant"]
    done = subprocess.run([*rag, "ingest", "--json", str(folder)], env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 1, done.stderr  # some files failed, the command finished
    results = {r["file_name"]: r for r in json.loads(done.stdout)}
    assert results["runbook.md"]["outcome"] == "indexed"
    for hostile in attack:
        result = results[hostile.shown_name]
        check_outcome(hostile, result["outcome"], result["error_code"], result["reason"])

    asked = subprocess.run([*rag, "ask", "--json", NORMAL_QUESTION], env=env, capture_output=True, text=True,
                           timeout=300)
    answer = json.loads(asked.stdout)
    assert answer["answered"] and "previous container image" in answer["answer"]


class HealthWatch:
    """Asks /healthz every 100 ms; each answer must come within a second."""

    def __init__(self, base: str) -> None:
        self.base, self.slowest, self.failures, self.checks = base, 0.0, [], 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> HealthWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        with httpx.Client(timeout=1.0) as client:
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    ok = client.get(f"{self.base}/healthz").json()["status"] == "ok"
                except (httpx.HTTPError, ValueError, KeyError) as exc:
                    ok = False
                    self.failures.append(repr(exc))
                self.checks += 1
                self.slowest = max(self.slowest, time.monotonic() - started)
                if not ok and not self.failures:
                    self.failures.append("not ok")
                self._stop.wait(0.1)


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(rf"{field}:\s+(\d+) kB", status).group(1)) / 1024


def reset_peak_rss(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM := VmRSS (Linux)


@pytest.fixture()
def server(tmp_path: Path, model_cache: Path, minilm):  # minilm: the model is built before the server starts
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "rag_assistant", "serve", "--port", str(port)],
        env=attack_environment(tmp_path / "data", model_cache), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, process.stderr.read()
            assert time.monotonic() < deadline, "rag serve did not come up"
            time.sleep(0.2)
        yield base, process.pid
    finally:
        process.terminate()
        process.wait(15)


def test_the_server_stays_up_and_small_while_hostile_files_are_uploaded(
    server, attack: list[HostileFile]
) -> None:
    base, pid = server
    with httpx.Client(base_url=base, timeout=120) as client:
        first = client.post("/rag/documents", files={"file": ("runbook.md", NORMAL_DOC.encode())})
        assert first.status_code == 201, first.text
        assert client.post("/rag/query", json={"question": NORMAL_QUESTION}).json()["answered"]
        baseline = rss_mb(pid)
        reset_peak_rss(pid)

        def upload(hostile: HostileFile) -> httpx.Response:
            with httpx.Client(base_url=base, timeout=120) as own:
                return own.post("/rag/documents", files={"file": (hostile.name, hostile.data)})

        with HealthWatch(base) as health, ThreadPoolExecutor(4) as pool:
            responses = list(pool.map(upload, attack))
            # Questions are answered while the attack runs.
            during = client.post("/rag/query", json={"question": NORMAL_QUESTION})
        assert during.status_code == 200 and during.json()["answered"]

        for hostile, response in zip(attack, responses, strict=True):
            body = response.json()
            if hostile.expect == "indexed":
                assert response.status_code == 201, (hostile.what, body)
                assert body["document"]["file_name"] == hostile.shown_name
                check_outcome(hostile, body["outcome"], None, None)
            else:
                assert response.status_code == 422, (hostile.what, body)
                check_outcome(hostile, "failed", body["error"]["code"], body["error"]["message"])
        assert health.checks > 10 and health.failures == [], health.failures
        assert health.slowest < 1.0

        growth = rss_mb(pid, "VmHWM") - baseline
        print(f"\nserver RSS {baseline:.0f} MB, peak during the attack {baseline + growth:.0f} MB; "
              f"healthz slowest {health.slowest * 1000:.0f} ms over {health.checks} checks")
        assert growth < SERVER_GROWTH_BOUND_MB, f"the server grew by {growth:.0f} MB"
        listed = {d["file_name"]: d for d in client.get("/rag/documents", params={"limit": 100}).json()["documents"]}
        assert listed["runbook.md"]["status"] == "ready"
        for hostile in attack:
            assert listed[hostile.shown_name]["status"] == ("ready" if hostile.expect == "indexed" else "failed")
        after = client.post("/rag/query", json={"question": NORMAL_QUESTION}).json()
        assert after["answered"] and "previous container image" in after["answer"]


def test_the_upload_handler_indexes_or_refuses_each_hostile_file(
    lambda_env, monkeypatch, attack: list[HostileFile]
) -> None:
    from rag_assistant.aws import runtime
    from rag_assistant.aws.upload_handler import IngestionFailed

    monkeypatch.setenv("RAG_PARSE_TIMEOUT", str(PARSE_TIMEOUT_SECONDS))
    runtime.reset()
    s3, bucket = lambda_env["s3"], lambda_env["bucket"]
    s3.put_object(Bucket=bucket, Key="docs/runbook.md", Body=NORMAL_DOC.encode())
    assert invoke_upload(s3_event("created", bucket, "docs/runbook.md"))["indexed"] == 1
    keys = [f"attack/{hostile.name}" for hostile in attack]
    for key, hostile in zip(keys, attack, strict=True):
        s3.put_object(Bucket=bucket, Key=key, Body=hostile.data)
    with pytest.raises(IngestionFailed):  # the batch ran to its end; failures go to the retry/DLQ path
        invoke_upload(s3_event("created", bucket, *keys))

    service = runtime.rag_service()
    for key, hostile in zip(keys, attack, strict=True):
        document = service.get_document(document_id_for(f"s3://{bucket}/{key}"))
        assert document.file_name == hostile.shown_name
        if hostile.expect == "indexed":
            assert document.status == "ready" and document.chunk_count >= 1, (hostile.what, document)
            assert max(len(c.text) for c in service.document_chunks(document.document_id)) <= 1_600
        else:
            assert document.status == "failed", (hostile.what, document)
            assert EXPLAINED[hostile.expect].search(document.error or ""), (hostile.what, document.error)
    answer = service.ask(NORMAL_QUESTION)
    assert answer.answered and "previous container image" in answer.text
