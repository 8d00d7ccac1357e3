"""Cold starts of the *packaged* Lambda handlers (the bundles `cdk synth` builds, run by a
Python that sees nothing else: int8 model from the layer) against the same handlers run
from the source tree (fp32 model from the cache), interleaved, on DynamoDB Local + moto.
Writes its section of docs/BENCHMARKS.md.

    .venv/bin/python bench/bench_packaged_cold_start.py

Cold start = a fresh process importing the handler and serving its first request (what a
new Lambda sandbox pays after the runtime itself). The bundles are built for this machine's
Python (3.11) by the same code that builds the deployed 3.12 ones.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
for extra in ("tests", "bench", "src", "infrastructure/cdk"):
    sys.path.insert(0, str(REPO / extra))

from aws_services import aws_settings, lambda_runtime_site, running_dynamodb_local, running_moto_server  # noqa: E402
from bench_aws import COLD, PDF  # noqa: E402
from rag_stack import packaging  # noqa: E402
from report import write_section  # noqa: E402

RUNS = 5


def run(code: str, event: dict, env: dict[str, str], packaged_paths: list[Path] | None) -> dict:
    if packaged_paths is None:
        command = [sys.executable, "-c", code, json.dumps(event)]
    else:
        prefix = f"import sys; sys.path[:0] = {[str(p) for p in packaged_paths]!r}\n"
        command = [sys.executable, "-S", "-c", prefix + code, json.dumps(event)]
    out = subprocess.run(command, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    import boto3

    with running_dynamodb_local() as ddb, running_moto_server() as moto, tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ.update(aws_settings(ddb, moto))
        from aws_services import create_bucket, create_table
        from test_aws_handlers import api_event, s3_event

        target = packaging.Target(f"{sys.version_info.major}.{sys.version_info.minor}", "x86_64")
        bundles = {kind: packaging.build_bundle(root / kind, pieces, target, layer=kind != "code")
                   for kind, pieces in packaging.bundle_kinds(True).items()}
        runtime_site = lambda_runtime_site(root / "lambda-runtime")
        full = [bundles["code"], bundles["common"] / "python", bundles["ml"] / "python", runtime_site]
        small = [bundles["code"], bundles["common"] / "python", runtime_site]

        table, bucket = create_table("rag-packaged"), create_bucket("rag-packaged")
        base_env = {k: v for k, v in os.environ.items() if k.startswith("AWS_")} | {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp, "VECTORSTORE_BACKEND": "dynamodb",
            "VECTORSTORE_TABLE_NAME": table, "BUCKET_NAME": bucket, "LLM_PROVIDER": "extractive",
            "AWS_LAMBDA_FUNCTION_NAME": "rag-bench", "LOG_LEVEL": "WARNING",
            "POWERTOOLS_METRICS_NAMESPACE": "RagAssistant"}
        # Lambda's /var/task and /opt are read-only: no __pycache__ is written there either.
        packaged_env = base_env | {"PYTHONDONTWRITEBYTECODE": "1", "RAG_EMBEDDING_MODEL_DIR": str(bundles["ml"] / "model"),
                                   "RAG_CACHE_DIR": str(root / "cache")}
        source_env = base_env | {"RAG_CACHE_DIR": str(Path.home() / ".cache" / "rag-assistant")}
        boto3.client("s3").put_object(Bucket=bucket, Key="NIST.SP.800-207.pdf", Body=PDF.read_bytes())
        run(COLD.format(module="rag_assistant.aws.upload_handler"),
            s3_event("created", bucket, "NIST.SP.800-207.pdf"), packaged_env, full)

        query = api_event("POST", "/rag/query", {"question": "What is zero trust?"})
        listing = api_event("GET", "/rag/documents")
        samples: dict[str, list[dict]] = {k: [] for k in ("query-src", "query-pkg", "docs-src", "docs-pkg")}
        for _ in range(RUNS):  # interleaved: the machine's noise hits both alike
            samples["query-src"].append(run(COLD.format(module="rag_assistant.aws.query_handler"), query, source_env, None))
            samples["query-pkg"].append(run(COLD.format(module="rag_assistant.aws.query_handler"), query, packaged_env, full))
            samples["docs-src"].append(run(COLD.format(module="rag_assistant.aws.documents_handler"), listing, source_env, None))
            samples["docs-pkg"].append(run(COLD.format(module="rag_assistant.aws.documents_handler"), listing, packaged_env, small))

    def median(key: str, field: str) -> float:
        return statistics.median(s[field] for s in samples[key])

    lines = ["## Packaged Lambda handlers: cold start", "",
             "Command: `.venv/bin/python bench/bench_packaged_cold_start.py` "
             f"(median of {RUNS}, interleaved; DynamoDB Local + moto; the NIST SP 800-207 PDF indexed)", "",
             "| handler | from | import ms | first request ms | total ms |", "|---|---|---:|---:|---:|"]
    for name, key in (("query", "query"), ("documents", "docs")):
        for label, suffix in (("source tree, fp32 model", "src"), ("Lambda bundles, int8 model", "pkg")):
            k = f"{key}-{suffix}"
            total = median(k, "import_ms") + median(k, "first_call_ms")
            lines.append(f"| {name} | {label} | {median(k, 'import_ms'):.0f} | {median(k, 'first_call_ms'):.0f} | {total:.0f} |")
    ratio = ((median("query-pkg", "import_ms") + median("query-pkg", "first_call_ms"))
             / (median("query-src", "import_ms") + median("query-src", "first_call_ms")))
    compiled = packaging.bytecode_compiler(target) is not None
    lines += ["", f"Packaged / source-tree query cold start: x{ratio:.2f}. Bundles with bytecode: "
              f"{'yes' if compiled else 'no'} (packaging ships `.pyc` when an interpreter of the runtime's "
              "version is at hand: Lambda's read-only /var/task and /opt cannot cache them, so without "
              "it every cold start compiles the sources)."]
    write_section("bench_packaged_cold_start", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
