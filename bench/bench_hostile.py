"""Ingestion under attack and under load; writes its section of docs/BENCHMARKS.md.

    .venv/bin/python bench/bench_hostile.py [--quick]

1. Parse and ingest throughput of the NIST PDFs with the readers in their own processes
   (RAG_PARSE_ISOLATION=process, the default) against parsing in the server's process (the
   behaviour before), in the same run.
2. Question latency of a real `rag serve` (uvicorn, MiniLM, extractive answers) idle and
   while 8 clients upload PDFs without pause; the same with the old unbounded in-process
   ingestion (parsing in the server, as many ingestions at once as Starlette has threads).
3. The hostile files of tests/hostile_files.py uploaded one by one: outcome, seconds, and
   how much the server's peak RSS rose for each.

The machine is shared and noisy: medians, and ratios against a baseline of the same run.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
PDFS = sorted((REPO / "tests" / "fixtures" / "pdfs").glob("*.pdf"))
sys.path[:0] = [str(REPO / "src"), str(REPO / "bench"), str(REPO / "tests")]

from hostile_files import hostile_files  # noqa: E402
from report import write_section  # noqa: E402

from rag_assistant.config import Settings  # noqa: E402

#: The servers' output, for when one fails.
SERVER_LOG = Path(tempfile.gettempdir()) / "rag-bench-hostile-server.log"
QUESTIONS = [
    "What are the tenets of zero trust?",
    "What is a policy enforcement point?",
    "How should software producers protect the software?",
    "What does the policy engine decide?",
    "What is the Secure Software Development Framework?",
    "Which practices prepare the organization?",
    "What is micro-segmentation?",
    "How are vulnerabilities responded to?",
]


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


# --- 1. throughput -------------------------------------------------------------------------


def bench_throughput(repeat: int) -> list[str]:
    from rag_assistant.bootstrap import create_service
    from rag_assistant.embedding.registry import create_embedder
    from rag_assistant.ingestion.isolation import ParserPool
    from rag_assistant.ingestion.parsing import DocumentLimits, parse_document

    blobs = [(p.name, p.read_bytes()) for p in PDFS]
    pages = sum(parse_document(n, b).page_count or 0 for n, b in blobs)

    def timed(fn) -> float:
        runs = []
        for _ in range(repeat):
            start = time.perf_counter()
            fn()
            runs.append(time.perf_counter() - start)
        return statistics.median(runs)

    pool = ParserPool(workers=1, memory_bytes=512 << 20, timeout_seconds=60, limits=DocumentLimits())
    pool.parse(*blobs[1])  # warm: a server's reader is started by warm_up()
    inline = timed(lambda: [parse_document(n, b) for n, b in blobs])
    isolated = timed(lambda: [pool.parse(n, b) for n, b in blobs])
    pool.close()

    embedder = create_embedder("sentence-transformers/all-MiniLM-L6-v2", cache_dir=Settings().cache_dir)
    embedder.warm_up()

    def ingest(isolation: str) -> float:
        runs = []
        for _ in range(max(1, repeat // 2)):
            with tempfile.TemporaryDirectory() as data:
                settings = Settings(RAG_DATA_DIR=data, LLM_PROVIDER="extractive", RAG_PARSE_ISOLATION=isolation)
                with create_service(settings, embedder=embedder) as service:
                    service.warm_up()
                    start = time.perf_counter()
                    results = [service.ingest_bytes(f"bench:///{n}", n, b) for n, b in blobs]
                    runs.append(time.perf_counter() - start)
                    assert all(r.outcome == "indexed" for r in results), results
        return statistics.median(runs)

    ingest_inline, ingest_isolated = ingest("none"), ingest("process")
    return [
        f"### Throughput on normal PDFs (both NIST PDFs, {pages} pages; median of {repeat})",
        "",
        "| step | in the server's process (before) | in a reader process (now) | now / before |",
        "|---|---|---|---|",
        f"| parse + clean | {pages / inline:,.0f} pages/s | {pages / isolated:,.0f} pages/s | {inline / isolated:.2f}x |",
        f"| whole ingestion (parse, chunk, embed with MiniLM, store) | {pages / ingest_inline:,.1f} pages/s "
        f"| {pages / ingest_isolated:,.1f} pages/s | {ingest_inline / ingest_isolated:.2f}x |",
        "",
        "A reader is reused between files (a fresh interpreter costs ~0.2 s); the bytes go to it",
        "and the sections come back over a pipe. What the reader adds is copying, not parsing.",
        "",
    ]


# --- 2. questions under load ---------------------------------------------------------------


class Server:
    def __init__(self, data_dir: Path, **env: str) -> None:
        port = _free_port()
        self.base = f"http://127.0.0.1:{port}"
        environment = dict(os.environ, RAG_DATA_DIR=str(data_dir), LLM_PROVIDER="extractive", LOG_LEVEL="WARNING",
                           **env)
        with SERVER_LOG.open("a") as log:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(
                [sys.executable, "-m", "rag_assistant", "serve", "--port", str(port)],
                env=environment, stdout=subprocess.DEVNULL, stderr=log,
            )
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{self.base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("rag serve did not start")
            time.sleep(0.2)

    def rss_mb(self, field: str = "VmRSS") -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
        raise KeyError(field)

    def reset_peak(self) -> None:
        Path(f"/proc/{self.process.pid}/clear_refs").write_text("5")

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(30)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ask_many(base: str, count: int) -> list[float]:
    latencies = []
    with httpx.Client(base_url=base, timeout=120) as client:
        for i in range(count):
            start = time.perf_counter()
            response = client.post("/rag/query", json={"question": QUESTIONS[i % len(QUESTIONS)]})
            latencies.append(time.perf_counter() - start)
            response.raise_for_status()
    return latencies


def measure_server(label: str, questions: int, uploaders: int, **env: str) -> dict:
    with tempfile.TemporaryDirectory() as data:
        server = Server(Path(data), **env)
        try:
            with httpx.Client(base_url=server.base, timeout=300) as client:
                for path in PDFS:  # the corpus the questions are about
                    client.post("/rag/documents", files={"file": (path.name, path.read_bytes())}).raise_for_status()
            ask_many(server.base, 3)  # warm
            idle = ask_many(server.base, questions)
            stop = threading.Event()
            statuses: list[int] = []

            def upload_forever(worker: int) -> None:
                with httpx.Client(base_url=server.base, timeout=600) as own:
                    n = 0
                    while not stop.is_set():
                        path = PDFS[(worker + n) % len(PDFS)]
                        # New bytes each time (a trailing comment), so each upload is a full re-index.
                        data = path.read_bytes() + f"\n%upload {worker}-{n}\n".encode()
                        statuses.append(own.post("/rag/documents",
                                                 files={"file": (f"load-{worker}.pdf", data)}).status_code)
                        n += 1

            threads = [threading.Thread(target=upload_forever, args=(w,), daemon=True) for w in range(uploaders)]
            before = server.rss_mb()
            server.reset_peak()
            for thread in threads:
                thread.start()
            time.sleep(3)  # every uploader has a file in flight
            loaded = ask_many(server.base, questions)
            stop.set()
            for thread in threads:
                thread.join(600)
            peak = server.rss_mb("VmHWM")
        finally:
            server.close()
    return {"label": label, "idle": idle, "loaded": loaded, "statuses": statuses, "rss": before, "peak": peak}


def bench_latency(questions: int) -> list[str]:
    cores = os.cpu_count() or 1
    runs = [
        measure_server(f"now: readers in processes, {max(1, cores // 2)} ingestion at a time, 16 may wait",
                       questions, 8),
        measure_server("before: parsing in the server, ingestions unbounded (40 threads)", questions, 8,
                       RAG_PARSE_ISOLATION="none", RAG_INGEST_WORKERS="40", RAG_INGEST_QUEUE="0"),
    ]
    lines = [
        f"### Question latency idle and under 8 uploading clients ({questions} questions each, one asker)",
        "",
        "| server | idle p50 / p95 | under load p50 / p95 | p95 ratio | uploads done (refused) | server RSS / peak under load |",
        "|---|---|---|---|---|---|",
    ]
    for run in runs:
        idle, loaded = run["idle"], run["loaded"]
        done = sum(s == 201 for s in run["statuses"])
        refused = sum(s == 503 for s in run["statuses"])
        lines.append(
            f"| {run['label']} | {pct(idle, 50) * 1000:.0f} / {pct(idle, 95) * 1000:.0f} ms "
            f"| {pct(loaded, 50) * 1000:.0f} / {pct(loaded, 95) * 1000:.0f} ms "
            f"| {pct(loaded, 95) / pct(idle, 95):.1f}x | {done} ({refused}) "
            f"| {run['rss']:.0f} / {run['peak']:.0f} MB |"
        )
    lines += [
        "",
        "Uploads each re-index a NIST PDF (new bytes every time). The goal: p95 under load within",
        "3x of idle on 2 cores.",
        "",
    ]
    return lines


# --- 3. the largest document the limits allow ---------------------------------------------


def measure_document(kind: str) -> None:
    """In a fresh process: index one document at the character limit and print how much
    the process's peak RSS rose (its bytes already in memory, as an upload's are)."""
    import json
    import random

    from rag_assistant.bootstrap import create_service
    from rag_assistant.embedding.hashing import HashingEmbedder
    from rag_assistant.embedding.registry import create_embedder

    minilm = create_embedder("sentence-transformers/all-MiniLM-L6-v2", cache_dir=Settings().cache_dir)

    class MiniLMTokens(HashingEmbedder):
        """MiniLM's tokenizer sizes the chunks; hashing vectors keep thousands of embeddings quick."""

        def count_tokens(self, texts):
            return minilm.count_tokens(texts)

    limit = Settings().max_document_chars
    if kind == "prose":
        rng = random.Random(1)
        words = ["zero", "trust", "architecture", "assumes", "no", "implicit", "trust", "granted", "to",
                 "assets", "or", "accounts", "based", "solely", "on", "their", "physical", "or", "network",
                 "location", "policy", "engine", "administrator"]
        parts, size = [], 0
        while size < limit - 1_000:
            sentence = " ".join(rng.choice(words) for _ in range(15)) + (". \n\n" if rng.random() < 0.1 else ". ")
            parts.append(sentence)
            size += len(sentence)
        data = "".join(parts).encode()
    else:
        data = b"x" * (limit - 1_000)
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(RAG_DATA_DIR=folder, LLM_PROVIDER="extractive")
        with create_service(settings, embedder=MiniLMTokens()) as service:
            service.warm_up()
            service.ingest_bytes("bench:///warm.txt", "warm.txt", b"A first small document.")
            before = _status_mb("VmRSS")
            Path("/proc/self/clear_refs").write_text("5")
            start = time.perf_counter()
            result = service.ingest_bytes("bench:///big.txt", "big.txt", data)
            seconds = time.perf_counter() - start
            print(json.dumps({"outcome": str(result.outcome), "chunks": result.chunk_count, "bytes": len(data),
                              "chars": len(data.decode()), "seconds": seconds,
                              "rise": _status_mb("VmHWM") - before, "kept": _status_mb("VmRSS") - before}))


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


def bench_largest_document() -> list[str]:
    import json

    lines = [
        "### The largest document the limits allow (RAG_MAX_DOCUMENT_CHARS = 3,000,000), in the server's process",
        "",
        "| document | characters | chunks | seconds | peak RSS rise | kept after |",
        "|---|---|---|---|---|---|",
    ]
    for kind, what in (("prose", "English prose"), ("run", "one character, no spaces")):
        done = subprocess.run([sys.executable, __file__, "--measure-document", kind], capture_output=True,
                              text=True, check=True)
        m = json.loads(done.stdout.strip().splitlines()[-1])
        assert m["outcome"] == "indexed", m
        lines.append(f"| {what} | {m['chars']:,} | {m['chunks']:,} | {m['seconds']:.1f} | +{m['rise']:.0f} MB "
                     f"| +{m['kept']:.0f} MB |")
    lines += [
        "",
        "Chunked with MiniLM's tokenizer, embedded with the hashing embedder (thousands of MiniLM",
        "embeddings would add minutes, not memory: they go 64 chunks at a time). The file's bytes",
        "(at most RAG_MAX_FILE_BYTES) come on top: an upload holds them until it is indexed.",
        "",
    ]
    return lines


# --- 4. hostile files ----------------------------------------------------------------------


def bench_hostile() -> list[str]:
    defaults = Settings()
    attack = hostile_files(max_pages=defaults.max_pages, max_chunks=defaults.max_chunks)
    lines = [
        "### Hostile files, uploaded one at a time to `rag serve` (defaults: 512 MB and 60 s per reader)",
        "",
        "| file | bytes | outcome | seconds | server peak RSS rise |",
        "|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as data:
        server = Server(Path(data))
        try:
            with httpx.Client(base_url=server.base, timeout=300) as client:
                client.post("/rag/documents", files={"file": ("warm.md", b"# Warm\nA first document.")})
                client.post("/rag/query", json={"question": "warm up"})
                for hostile in attack:
                    before = server.rss_mb()
                    server.reset_peak()
                    start = time.perf_counter()
                    response = client.post("/rag/documents", files={"file": (hostile.name, hostile.data)})
                    seconds = time.perf_counter() - start
                    body = response.json()
                    outcome = body["outcome"] if response.status_code == 201 else body["error"]["code"]
                    rise = server.rss_mb("VmHWM") - before
                    lines.append(f"| {hostile.what} | {len(hostile.data):,} | {outcome} | {seconds:.1f} | {rise:+.0f} MB |")
        finally:
            server.close()
    lines += [
        "",
        "Before (issue 13): the 200 MB `q` bomb took the server to 16.5 GB RSS and kept 15.5 GB;",
        "600 MB of zeros 1.1-1.4 GB; a 100 KB line of dots froze the server for ~40 min.",
        "",
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer repeats and questions")
    parser.add_argument("--measure-document", choices=["prose", "run"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure_document:
        measure_document(args.measure_document)
        return
    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"run on {time.strftime('%Y-%m-%d')}.",
        "",
    ]
    lines += bench_throughput(3 if args.quick else 5)
    lines += bench_latency(12 if args.quick else 30)
    lines += bench_largest_document()
    lines += bench_hostile()
    command = ".venv/bin/python bench/bench_hostile.py" + (" --quick" if args.quick else "")
    write_section("bench_hostile", ["## Ingestion under attack and under load", "",
                                    f"Command: `{command}` (`make bench` runs it without `--quick`)", "", *lines])


if __name__ == "__main__":
    main()
