"""The web page on AWS, served by the documents function: what it costs. Writes its section
of docs/BENCHMARKS.md.

    .venv/bin/python bench/bench_web_page.py

Cold start = a fresh Python process importing the documents handler and serving its first
request (as bench_aws.py measures it); warm = the same handler in one process, after the
first call, against the listing of an empty table on DynamoDB Local in the same run as the
baseline. The alternative (API Gateway's S3 integration reading the files from a bucket)
cannot run here; the comparison is in docs/DEPLOYMENT_AWS.md.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO / "src"))

from aws_services import aws_settings, running_dynamodb_local, running_moto_server  # noqa: E402
from bench_aws import cold_start  # noqa: E402
from report import write_section  # noqa: E402

PAGE = ("/", "/static/app.js", "/static/style.css")


def warm(handler, event_for, path: str, runs: int = 300) -> tuple[float, float, int]:
    from lambda_support import FakeContext

    handler(event_for(path), FakeContext())
    samples, size = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        response = handler(event_for(path), FakeContext())
        samples.append((time.perf_counter() - started) * 1000)
        assert response["statusCode"] == 200, response
        size = len(response["body"].encode())
    cuts = statistics.quantiles(samples, n=20)
    return statistics.median(samples), cuts[18], size


def main() -> None:
    with running_dynamodb_local() as ddb, running_moto_server() as moto, tempfile.TemporaryDirectory() as tmp:
        os.environ.update(aws_settings(ddb, moto))
        from aws_services import create_bucket, create_table

        table, bucket = create_table("rag-bench-page"), create_bucket("rag-bench-page")
        env = dict(os.environ, VECTORSTORE_BACKEND="dynamodb", VECTORSTORE_TABLE_NAME=table, BUCKET_NAME=bucket,
                   LLM_PROVIDER="extractive", AWS_LAMBDA_FUNCTION_NAME="rag-bench", LOG_LEVEL="WARNING",
                   POWERTOOLS_METRICS_NAMESPACE="RagAssistant", RAG_DATA_DIR=tmp)
        os.environ.update(env)
        from lambda_support import api_event

        cold_page = cold_start("rag_assistant.aws.documents_handler", api_event("GET", "/"), env, runs=5)
        cold_list = cold_start("rag_assistant.aws.documents_handler", api_event("GET", "/rag/documents"), env, runs=5)

        from rag_assistant.aws import documents_handler

        rows = {path: warm(documents_handler.handler, lambda p: api_event("GET", p), path) for path in PAGE}
        listing = warm(documents_handler.handler, lambda p: api_event("GET", p), "/rag/documents")

    page_bytes = sum(size for _, _, size in rows.values())
    web = REPO / "src" / "rag_assistant" / "web"
    lines = [
        "## The web page on AWS (served by the documents function)",
        "",
        "Command: `.venv/bin/python bench/bench_web_page.py` (documents handler from the source tree, "
        "DynamoDB Local + moto; medians, this machine, shared and noisy)",
        "",
        "| request | warm median ms | warm p95 ms | body bytes |",
        "|---|---|---|---|",
        *[f"| `GET {path}` | {median:.2f} | {p95:.2f} | {size:,} |" for path, (median, p95, size) in rows.items()],
        f"| `GET /rag/documents` (baseline: one DynamoDB Local query) | {listing[0]:.2f} | {listing[1]:.2f} | "
        f"{listing[2]:,} |",
        "",
        "| cold start (fresh process: import + first request) | import ms | first request ms |",
        "|---|---|---|",
        f"| page first (`GET /`) | {cold_page['import_ms']:.0f} | {cold_page['first_call_ms']:.0f} |",
        f"| listing first (`GET /rag/documents`) | {cold_list['import_ms']:.0f} | {cold_list['first_call_ms']:.0f} |",
        "",
        f"The page is {page_bytes:,} bytes in three requests; the files add "
        f"{sum(p.stat().st_size for p in web.iterdir()):,} bytes to the documents function's code. A warm page "
        f"request costs {statistics.mean(m for m, _, _ in rows.values()) / listing[0]:.2f}x the listing's "
        "time; the cold start it pays is the one the page's first listing would pay anyway (same function).",
    ]
    write_section("web-page", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
