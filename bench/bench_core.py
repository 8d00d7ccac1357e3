"""Benchmarks of the local core; writes its section of docs/BENCHMARKS.md.

    .venv/bin/python bench/bench_core.py [--quick]

The machine is shared and noisy, so every figure is a median over repeated runs and is
paired with a baseline measured in the same process (ratios travel; absolute times don't).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
PDFS = sorted((REPO / "tests" / "fixtures" / "pdfs").glob("*.pdf"))
RAG = str(Path(sys.executable).with_name("rag"))
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "bench"))

from report import write_section  # noqa: E402

from rag_assistant.config import Settings  # noqa: E402
from rag_assistant.embedding.registry import create_embedder  # noqa: E402
from rag_assistant.ingestion.chunking import chunk_sections  # noqa: E402
from rag_assistant.ingestion.parsing import parse_document  # noqa: E402
from rag_assistant.models import Chunk  # noqa: E402


def timed(fn, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


def bench_parsing(repeat: int) -> list[str]:
    import pypdf

    blobs = [(p.name, p.read_bytes()) for p in PDFS]
    pages = sum(parse_document(n, b).page_count or 0 for n, b in blobs)

    def ours() -> None:
        for name, data in blobs:
            parse_document(name, data)

    def pypdf_baseline() -> None:
        import io

        for _, data in blobs:
            for page in pypdf.PdfReader(io.BytesIO(data)).pages:
                page.extract_text()

    ours_t = statistics.median(timed(ours, repeat))
    base_t = statistics.median(timed(pypdf_baseline, max(1, repeat // 2)))
    return [
        f"### Parsing (both NIST PDFs, {pages} pages)",
        "",
        "| parser | pages/s (median) | ratio |",
        "|---|---|---|",
        f"| pypdfium2 + cleaning (ours) | {pages / ours_t:,.0f} | {base_t / ours_t:.1f}x |",
        f"| pypdf text extraction alone (baseline) | {pages / base_t:,.0f} | 1.0x |",
        "",
    ]


def nist_chunks(embedder) -> list[Chunk]:
    chunks: list[Chunk] = []
    for path in PDFS:
        parsed = parse_document(path.name, path.read_bytes())
        chunks += chunk_sections(path.stem, "bench", parsed.sections, embedder, 200, 32)
    return chunks


def bench_embedding(embedder, chunks: list[Chunk], repeat: int) -> list[str]:
    from rag_assistant.text.sentences import split_sentences

    sections = []
    chunk_texts = [c.embedding_text() for c in chunks]
    sentences = [s for c in chunks for s in split_sentences(c.text)][:400]
    for title, texts in (("NIST chunks", chunk_texts), ("sentences (what the extractive answerer embeds)", sentences)):
        tokens = statistics.mean(embedder.count_tokens(texts))
        rows = []
        baseline = None
        for label, batch, budget in [("one text per call (baseline)", 1, 10**9),
                                     ("fixed batches of 32, padded to the longest", 32, 10**9),
                                     ("length-sorted, <= 256 padded tokens per batch (default)", 32, 256)]:
            embedder._batch_size, embedder._batch_tokens = batch, budget
            t = statistics.median(timed(lambda texts=texts: embedder.embed_documents(texts), repeat))
            baseline = baseline or t
            rows.append(f"| {label} | {len(texts) / t:.1f} | {baseline / t:.2f}x |")
        sections += [
            f"### Embedding {len(texts)} {title}, mean {tokens:.0f} tokens, {embedder._threads} threads",
            "",
            "| batching | texts/s (median) | ratio |",
            "|---|---|---|",
            *rows,
            "",
        ]
    embedder._batch_size, embedder._batch_tokens = 32, 256
    return sections + [
        "Large padded batches are slower on this CPU, and cost memory: the attention tensors of",
        "32 x 200 tokens outgrow the caches (while choosing the default, the peak RSS of embedding",
        "200 chunks was 629 MB with fixed batches of 32 against 244 MB with the token budget).",
        "",
    ]


def bench_cli(repeat: int) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, RAG_DATA_DIR=tmp, LLM_PROVIDER="extractive")
        start = time.perf_counter()
        peak_ingest = run_measured([RAG, "ingest", *map(str, PDFS)], env)
        ingest_s = time.perf_counter() - start
        peak_ask = run_measured([RAG, "ask", "What are the tenets of zero trust?"], env)
        ask = [RAG, "ask", "What are the tenets of zero trust?"]
        ask_t = timed(lambda: subprocess.run(ask, env=env, check=True, capture_output=True), repeat)
        py_t = timed(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True), repeat)
        help_t = timed(lambda: subprocess.run([RAG, "--help"], check=True, capture_output=True), repeat)
    return [
        "### Whole commands (subprocesses, index on local disk)",
        "",
        "| command | median | ratio to `python -c pass` |",
        "|---|---|---|",
        f"| `python -c pass` (baseline) | {statistics.median(py_t) * 1000:.0f} ms | 1x |",
        f"| `rag --help` | {statistics.median(help_t) * 1000:.0f} ms | {statistics.median(help_t) / statistics.median(py_t):.0f}x |",
        f"| `rag ask` cold start, answer included | {statistics.median(ask_t) * 1000:.0f} ms | {statistics.median(ask_t) / statistics.median(py_t):.0f}x |",
        f"| `rag ingest` both NIST PDFs (95 pages) | {ingest_s:.1f} s (one run) | |",
        "",
        f"Peak RSS (GNU time's %M): `rag ingest` of both PDFs **{peak_ingest / 1024:.0f} MB**, "
        f"`rag ask` **{peak_ask / 1024:.0f} MB**.",
        "",
    ]


def run_measured(command: list[str], env: dict[str, str]) -> int:
    """Run a command to completion; return its own peak RSS in KiB.

    Through /usr/bin/time: a child forked straight from this (large) process would report
    the parent's high-water mark, which fork copies.
    """
    out = subprocess.run(["/usr/bin/time", "-f", "%M", *command], env=env, check=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return int(out.stderr.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args()
    repeat = 3 if args.quick else 5
    settings = Settings()
    embedder = create_embedder(settings.embedding_model_name, cache_dir=settings.cache_dir)
    embedder.warm_up()
    chunks = nist_chunks(embedder)

    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"run on {time.strftime('%Y-%m-%d')}.",
        "",
    ]
    lines += bench_parsing(repeat)
    lines += bench_embedding(embedder, chunks, 3 if not args.quick else 1)
    # Search latency at 10k / 100k chunks: bench/bench_search.py (before / after in one run).
    lines += bench_cli(repeat)
    command = "make bench" + (" (bench/bench_core.py --quick)" if args.quick else "")
    write_section("bench_core", ["## Local core", "", f"Command: `{command}`", "", *lines])
    print("\n".join(lines))


if __name__ == "__main__":
    main()
