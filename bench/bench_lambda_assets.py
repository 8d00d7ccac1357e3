"""The Lambda assets: unzipped/zipped sizes per function (x86_64 and arm64), and what the
int8 model costs in quality and buys in speed against fp32. Writes its section of
docs/BENCHMARKS.md.

    .venv/bin/python bench/bench_lambda_assets.py [--sizes-only]

Quality: dense-only retrieval on SciFact train (each document embedded as title + text,
truncated at 256 tokens like every chunk), nDCG@10 with fp32 and int8 vectors, both ranked
exactly; cosine between the two models' vectors of the same passages. Speed: documents
embedded per second by each model, interleaved in one process (2 threads).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "infrastructure" / "cdk"))

from report import write_section  # noqa: E402

from rag_stack import packaging  # noqa: E402

SHARED = Path(os.environ.get("RAG_SHARED_DIR", REPO.parent / "shared"))
SCIFACT = SHARED / "data" / "scifact"
MIB = 1024 * 1024


def zipped_bytes(folder: Path) -> int:
    with tempfile.TemporaryFile() as handle:
        with zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    archive.write(path, path.relative_to(folder))
        return handle.tell()


def sizes(root: Path, architecture: str) -> dict[str, tuple[int, int]]:
    target = packaging.Target("3.12", architecture)
    result = {}
    for kind, pieces in packaging.bundle_kinds(True).items():
        folder = packaging.build_bundle(root / architecture / kind, pieces, target, layer=kind != "code")
        result[kind] = (packaging.tree_bytes(folder), zipped_bytes(folder))
    return result


def quality_and_speed(model_dir: Path) -> list[str]:
    from rag_assistant.embedding.registry import create_embedder
    from rag_assistant.evaluation.beir import read_corpus, read_qrels, read_queries
    from rag_assistant.evaluation.metrics import ndcg_at

    cache = Path(os.environ.get("RAG_CACHE_DIR", Path.home() / ".cache" / "rag-assistant"))
    fp32 = create_embedder("sentence-transformers/all-MiniLM-L6-v2", cache_dir=cache, threads=2)
    int8 = create_embedder("sentence-transformers/all-MiniLM-L6-v2", cache_dir=cache, threads=2, model_dir=model_dir)
    corpus = read_corpus(SCIFACT / "corpus.jsonl.gz")
    queries = read_queries(SCIFACT / "queries.train.jsonl")
    qrels = read_qrels(SCIFACT / "qrels" / "train.tsv")
    queries = {q: t for q, t in queries.items() if q in qrels}
    texts = [f"{d.title}\n{d.text}" for d in corpus]
    ids = [d.doc_id for d in corpus]

    speed = {"fp32": [], "int8": []}
    sample = texts[:256]
    for model in (fp32, int8):
        model.embed_documents(sample[:8])  # load
    for _ in range(3):
        for name, model in (("fp32", fp32), ("int8", int8)):
            started = time.perf_counter()
            model.embed_documents(sample)
            speed[name].append(len(sample) / (time.perf_counter() - started))

    scores = {}
    vectors = {}
    for name, model in (("fp32", fp32), ("int8", int8)):
        matrix = model.embed_documents(texts)
        vectors[name] = matrix
        query_matrix = model.embed_documents(list(queries.values()))
        ranking = np.argsort(-(query_matrix @ matrix.T), axis=1)[:, :10]
        scores[name] = statistics.fmean(
            ndcg_at([ids[i] for i in row], qrels[q], 10) for q, row in zip(queries, ranking, strict=True))
    cosines = (vectors["fp32"] * vectors["int8"]).sum(axis=1)
    fp32_speed, int8_speed = statistics.median(speed["fp32"]), statistics.median(speed["int8"])
    return [
        f"Dense-only retrieval, SciFact train ({len(queries)} queries, {len(corpus):,} documents), exact ranking:",
        "",
        "| model | size | nDCG@10 | documents/s (median of 3, 256 docs, 2 threads) |",
        "|---|---:|---:|---:|",
        f"| MiniLM fp32 (local default) | 90 MB | {scores['fp32']:.4f} | {fp32_speed:.1f} |",
        f"| MiniLM int8 (Lambda layer) | {(model_dir / 'model.onnx').stat().st_size / 1e6:.0f} MB | "
        f"{scores['int8']:.4f} | {int8_speed:.1f} |",
        "",
        f"int8 / fp32: nDCG@10 x{scores['int8'] / scores['fp32']:.3f}, speed x{int8_speed / fp32_speed:.2f}. "
        f"Cosine between the two models' vectors of the same document: median {np.median(cosines):.4f}, "
        f"1st percentile {np.percentile(cosines, 1):.4f}, min {cosines.min():.4f}.",
    ]


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        table = [
            "Unzipped size counts against Lambda's 250 MB (function code + its layers); zipped is what",
            "is uploaded. Built by `rag_stack/packaging.py` exactly as `cdk synth` builds them (Python 3.12,",
            "`pip --platform manylinux_2_28_* --only-binary=:all: --no-deps`, trimmed).",
            "",
            "| architecture | bundle | unzipped MiB | zipped MiB |",
            "|---|---|---:|---:|",
        ]
        totals = []
        for architecture in ("x86_64", "arm64"):
            measured = sizes(root, architecture)
            for kind, (unzipped, zipped) in measured.items():
                table.append(f"| {architecture} | {kind} | {unzipped / MIB:.1f} | {zipped / MIB:.1f} |")
            documents = measured["code"][0] + measured["common"][0]
            embedding = documents + measured["ml"][0]
            totals.append(f"| {architecture} | {documents / MIB:.1f} | {embedding / MIB:.1f} | "
                          f"{(packaging.LAMBDA_LIMIT_BYTES - embedding) / MIB:.1f} |")
        table += ["", "| architecture | documents function MiB | upload/query function MiB | headroom to 250 MiB |",
                  "|---|---:|---:|---:|", *totals, ""]
        compiled = packaging.bytecode_compiler(packaging.Target("3.12", "x86_64"))
        table.append("Bytecode (`.pyc` for Python 3.12) included: " + ("yes" if compiled else "no (no python3.12 here)")
                     + ". Without it every cold start compiles the sources (see the cold-start section).")
        write_section("bench_lambda_assets", [
            "## Lambda assets", "", "Command: `.venv/bin/python bench/bench_lambda_assets.py`", "", *table])
        print("\n".join(table))
        if "--sizes-only" in sys.argv:
            return
        quality = quality_and_speed(root / "x86_64" / "ml" / "model")
    write_section("bench_int8_model", [
        "## The int8 embedding model of the Lambda layer", "",
        "Command: `.venv/bin/python bench/bench_lambda_assets.py`", "", *quality])
    print("\n".join(quality))


if __name__ == "__main__":
    main()
