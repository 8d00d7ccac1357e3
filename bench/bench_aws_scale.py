"""The AWS query path before and after, in the same run, on DynamoDB Local + moto: warm
queries through the handler at 10k chunks, and a cold instance's corpus load at 10k and
100k chunks (time, item reads, bytes). Writes its section of docs/BENCHMARKS.md.

    .venv/bin/python bench/bench_aws_scale.py [--baseline main] [--large 100000]

"Before" is the code of the git revision --baseline (exported to a temporary folder),
"after" this working tree; both run as child processes against the same table, so they
read the same items. Local stand-ins add their own latency (a DynamoDB Local round trip
is ~1-3 ms here, an S3 GET from moto more): treat absolute times as upper bounds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
for extra in ("tests", "bench", "src"):
    sys.path.insert(0, str(REPO / extra))

from aws_services import aws_settings, running_dynamodb_local, running_moto_server  # noqa: E402
from report import write_section  # noqa: E402

SNAPSHOT_KEY = "rag-index/corpus-snapshot.npz"
QUESTIONS = ["What is zero trust?", "What are the tenets of zero trust?", "What is a policy decision point?",
             "How are resources authenticated?", "What is micro-segmentation?"]

CHILD = r"""
import inspect, json, statistics, sys, time
sys.path[:0] = [sys.argv[1], sys.argv[2]]
mode = sys.argv[3]
import boto3
calls, received = [], [0]
boto3.setup_default_session()
boto3.DEFAULT_SESSION.events.register("before-call.*.*", lambda event_name, **_: calls.append(event_name.split(".")[-1]))
def count_bytes(http_response=None, **_):
    if http_response is not None and not getattr(http_response, "raw", None) is None:
        try:
            received[0] += len(http_response.content)
        except Exception:
            pass
boto3.DEFAULT_SESSION.events.register("after-call.dynamodb.*", count_bytes)
from rag_assistant.store.dynamodb_store import DynamoDBVectorStore
import os
out = {}
if mode == "cold":
    kwargs = {}
    if "snapshots" in inspect.signature(DynamoDBVectorStore).parameters and os.environ.get("RAG_CORPUS_SNAPSHOT_KEY"):
        from rag_assistant.blobs.s3 import S3BlobStore
        kwargs = {"snapshots": S3BlobStore(os.environ["BUCKET_NAME"]), "snapshot_key": os.environ["RAG_CORPUS_SNAPSHOT_KEY"]}
    store = DynamoDBVectorStore(os.environ["VECTORSTORE_TABLE_NAME"], **kwargs)
    store.bind_model("sentence-transformers/all-MiniLM-L6-v2", 384, claim=False)
    calls.clear(); received[0] = 0
    started = time.perf_counter()
    n = store.count_chunks()
    out = {"seconds": time.perf_counter() - started, "chunks": n, "calls": len(calls),
           "item_reads": calls.count("Query"), "dynamodb_bytes": received[0],
           # The previous store read every live chunk item; ours says what it read.
           "chunk_items": getattr(store, "last_refresh", {}).get("chunk_items", n),
           "snapshot_bytes": getattr(store, "last_refresh", {}).get("snapshot_bytes", 0)}
else:
    sys.path.insert(0, sys.argv[4])
    from test_aws_handlers import FakeContext, api_event
    from rag_assistant.aws import query_handler, runtime
    questions = json.loads(sys.argv[5])
    query_handler.handler(api_event("POST", "/rag/query", {"question": questions[0]}), FakeContext())
    latencies, per_query, retrieval = [], [], []
    for i in range(40):
        calls.clear()
        started = time.perf_counter()
        response = query_handler.handler(api_event("POST", "/rag/query", {"question": questions[i % 5]}), FakeContext())
        latencies.append((time.perf_counter() - started) * 1000)
        assert response["statusCode"] == 200, response
        per_query.append(len(calls))
        body = json.loads(response["body"])
    service = runtime.answering_service()
    for i in range(40):
        started = time.perf_counter()
        service.search(questions[i % 5], 5)
        retrieval.append((time.perf_counter() - started) * 1000)
    out = {"p50": statistics.median(latencies), "p95": sorted(latencies)[int(0.95 * len(latencies)) - 1],
           "retrieval_p50": statistics.median(retrieval), "calls_per_query": statistics.median(per_query),
           "chunks": service.count_chunks(), "answered": body["answered"]}
print(json.dumps(out))
"""


def export_tree(revision: str, target: Path) -> Path:
    archive = subprocess.run(["git", "-C", str(REPO), "archive", revision, "src"], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target / "src"


def child(src: Path, mode: str, env: dict[str, str]) -> dict:
    command = [sys.executable, "-c", CHILD, str(src), str(REPO / "tests"), mode, str(REPO / "tests"),
               json.dumps(QUESTIONS)]
    out = subprocess.run(command, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def add_synthetic(table: str, documents: range, snapshots=None) -> None:
    from rag_assistant.models import Chunk, Document, DocumentStatus
    from rag_assistant.store.dynamodb_store import DynamoDBVectorStore

    writer = DynamoDBVectorStore(table)
    writer.bind_model("sentence-transformers/all-MiniLM-L6-v2", 384)
    rng = np.random.default_rng(documents.start)
    words = ["policy", "engine", "access", "subject", "resource", "network", "identity", "device", "trust", "session"]
    for d in documents:
        doc_id = f"doc_synthetic_{d:04d}"
        chunks = [Chunk(f"{doc_id}:v:{i:05d}", doc_id, i,
                        " ".join(rng.choice(words, 40)) + f" filler {d} {i}") for i in range(500)]
        vectors = rng.standard_normal((500, 384)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        writer.replace_chunks(Document(doc_id, f"{doc_id}.txt", doc_id, "h" * 64, DocumentStatus.READY, 500,
                                       created_at="2026-01-01T00:00:00.000Z", updated_at="2026-01-01T00:00:00.000Z"),
                              chunks, vectors)


def save_snapshot(table: str, bucket: str) -> None:
    """What the upload function does after a commit (one snapshot for the bulk load here)."""
    from rag_assistant.blobs.s3 import S3BlobStore
    from rag_assistant.store.dynamodb_store import DynamoDBVectorStore

    writer = DynamoDBVectorStore(table, snapshots=S3BlobStore(bucket), snapshot_key=SNAPSHOT_KEY)
    writer.bind_model("sentence-transformers/all-MiniLM-L6-v2", 384)
    writer._save_snapshot()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", default="main")
    parser.add_argument("--large", type=int, default=100_000)
    args = parser.parse_args()
    import boto3

    with running_dynamodb_local() as ddb, running_moto_server() as moto, tempfile.TemporaryDirectory() as tmp:
        os.environ.update(aws_settings(ddb, moto))
        from aws_services import create_bucket, create_table

        table, bucket = create_table("rag-scale"), create_bucket("rag-scale")
        env = dict(os.environ, VECTORSTORE_BACKEND="dynamodb", VECTORSTORE_TABLE_NAME=table, BUCKET_NAME=bucket,
                   LLM_PROVIDER="extractive", AWS_LAMBDA_FUNCTION_NAME="rag-bench", LOG_LEVEL="WARNING",
                   POWERTOOLS_METRICS_NAMESPACE="RagAssistant", RAG_DATA_DIR=tmp, RAG_CORPUS_SNAPSHOT_KEY=SNAPSHOT_KEY)
        os.environ.update(env)
        trees = {"before": export_tree(args.baseline, Path(tmp) / "baseline"), "after": REPO / "src"}
        pdf = REPO / "tests" / "fixtures" / "pdfs" / "NIST.SP.800-207-ZeroTrustArchitecture.pdf"
        boto3.client("s3").put_object(Bucket=bucket, Key="NIST.SP.800-207.pdf", Body=pdf.read_bytes())
        from test_aws_handlers import FakeContext, s3_event

        from rag_assistant.aws import upload_handler

        upload_handler.handler(s3_event("created", bucket, "NIST.SP.800-207.pdf"), FakeContext())
        add_synthetic(table, range(20))
        save_snapshot(table, bucket)

        warm = {k: [] for k in trees}
        for _ in range(3):  # interleaved
            for kind, src in trees.items():
                warm[kind].append(child(src, "warm", env))
                print(kind, warm[kind][-1], flush=True)
        cold = {}
        for kind, src in trees.items():
            cold[(kind, "small")] = child(src, "cold", env)
            print(kind, cold[(kind, "small")], flush=True)
        add_synthetic(table, range(20, 20 + (args.large - 10_000) // 500))
        save_snapshot(table, bucket)
        for kind, src in trees.items():
            cold[(kind, "large")] = child(src, "cold", env)
            print(kind, cold[(kind, "large")], flush=True)

    def med(kind: str, field: str) -> float:
        return statistics.median(s[field] for s in warm[kind])

    lines = [
        "## AWS query path: warm queries, cold corpus loads (before / after, same run)",
        "",
        f"Command: `.venv/bin/python bench/bench_aws_scale.py` (before = `git archive {args.baseline}`, after = "
        "this tree; child processes on one DynamoDB Local table + moto S3; warm: median of 3 interleaved runs "
        "of 40 questions through the query handler after one first call)",
        "",
        f"Warm `POST /rag/query` at {warm['after'][0]['chunks']:,} chunks (the NIST PDF + 10,000 synthetic), "
        "extractive answer included:",
        "",
        "| | p50 ms | p95 ms | retrieval alone p50 ms | AWS calls per query |",
        "|---|---:|---:|---:|---:|",
    ]
    for kind in ("before", "after"):
        label = "before (baseline)" if kind == "before" else "after"
        lines.append(f"| {label} | {med(kind, 'p50'):.0f} | {med(kind, 'p95'):.0f} | "
                     f"{med(kind, 'retrieval_p50'):.1f} | {med(kind, 'calls_per_query'):.0f} |")
    lines += ["", f"Ratio after / before, p50: x{med('after', 'p50') / med('before', 'p50'):.2f}.", "",
              "A cold instance's corpus load (the first query's refresh; model already loaded):", "",
              "| chunks | | seconds | chunk items read (Query pages) | DynamoDB bytes | snapshot bytes (S3) |",
              "|---:|---|---:|---:|---:|---:|"]
    for size in ("small", "large"):
        for kind in ("before", "after"):
            r = cold[(kind, size)]
            lines.append(f"| {r['chunks']:,} | {kind} | {r['seconds']:.2f} | {r['chunk_items']:,} ({r['item_reads']:,}) | "
                         f"{r['dynamodb_bytes'] / 1e6:,.1f} MB | {r['snapshot_bytes'] / 1e6:,.1f} MB |")
        ratio = cold[("before", size)]["seconds"] / cold[("after", size)]["seconds"]
        lines.append(f"| | before / after | x{ratio:.1f} | | | |")
    lines.append("")
    write_section("bench_aws_scale", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
