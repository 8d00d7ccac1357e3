"""Cold starts of the *packaged* Lambda handlers (the bundles `cdk synth` builds, run by a
Python that sees nothing else: int8 model from the layer), before and after, interleaved,
on DynamoDB Local + moto; and the SnapStart restore path. Writes its section of
docs/BENCHMARKS.md.

    .venv/bin/python bench/bench_packaged_cold_start.py [--baseline main]

Cold start = a fresh process importing the handler and serving its first request (what a
new Lambda sandbox pays after the runtime itself). "Before" packages the code of the git
revision --baseline, "after" this tree, over the same dependency layers. The SnapStart
restore path = in a process where the before-snapshot hooks ran (what the snapshot
holds), the after-restore hook plus the first request; Lambda's own restore of the
memory image comes on top and cannot be run here. The bundles are built for this
machine's Python (3.11) by the same code that builds the deployed 3.12 ones.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
for extra in ("tests", "bench", "src", "infrastructure/cdk"):
    sys.path.insert(0, str(REPO / extra))

from aws_services import aws_settings, lambda_runtime_site, running_dynamodb_local, running_moto_server  # noqa: E402
from bench_aws import COLD, PDF  # noqa: E402
from report import write_section  # noqa: E402

from rag_stack import packaging  # noqa: E402

RUNS = 5

RESTORE = r"""
import json, sys, time
event = json.loads(sys.argv[1])
from bench_context import Context
import importlib
module = importlib.import_module({module!r})
from rag_assistant.aws import snapstart
before, after = snapstart.registered_hooks()
for hook, args, kwargs in before:
    hook(*args, **kwargs)
t1 = time.perf_counter()
for hook, args, kwargs in after:
    hook(*args, **kwargs)
t2 = time.perf_counter()
module.handler(event, Context())
t3 = time.perf_counter()
print(json.dumps({{"import_ms": (t2 - t1) * 1000, "first_call_ms": (t3 - t2) * 1000}}))
"""


def baseline_code(revision: str, root: Path, target) -> Path:
    """The code bundle of another revision: its rag_assistant, compiled like ours."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", revision, "src/rag_assistant"],
                             check=True, capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(root / "export", filter="data")
    code = root / "code-before"
    shutil.copytree(root / "export" / "src" / "rag_assistant", code / "rag_assistant",
                    ignore=lambda d, names: [n for n in names if n in ("web", "__pycache__")])
    packaging.precompile(code, target)
    return code


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

    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", default="main")
    args = parser.parse_args()
    with running_dynamodb_local() as ddb, running_moto_server() as moto, tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ.update(aws_settings(ddb, moto))
        from aws_services import create_bucket, create_table
        from test_aws_handlers import api_event, s3_event

        target = packaging.Target(f"{sys.version_info.major}.{sys.version_info.minor}", "x86_64")
        bundles = {kind: packaging.build_bundle(root / kind, pieces, target, layer=kind != "code")
                   for kind, pieces in packaging.bundle_kinds(True).items()}
        runtime_site = lambda_runtime_site(root / "lambda-runtime")
        context_dir = root / "context"
        context_dir.mkdir()
        (context_dir / "bench_context.py").write_text(COLD.split("t0 = time.perf_counter()")[0].split(
            "event = json.loads(sys.argv[1])")[1])
        codes = {"after": bundles["code"], "before": baseline_code(args.baseline, root, target)}

        def paths(code: Path, model: bool) -> list[Path]:
            layers = [bundles["common"] / "python"] + ([bundles["ml"] / "python"] if model else [])
            return [code, *layers, runtime_site, context_dir]

        table, bucket = create_table("rag-packaged"), create_bucket("rag-packaged")
        base_env = {k: v for k, v in os.environ.items() if k.startswith("AWS_")} | {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp, "VECTORSTORE_BACKEND": "dynamodb",
            "VECTORSTORE_TABLE_NAME": table, "BUCKET_NAME": bucket, "LLM_PROVIDER": "extractive",
            "AWS_LAMBDA_FUNCTION_NAME": "rag-bench", "LOG_LEVEL": "WARNING",
            "POWERTOOLS_METRICS_NAMESPACE": "RagAssistant", "RAG_CORPUS_SNAPSHOT_KEY": "rag-index/corpus-snapshot.npz"}
        # Lambda's /var/task and /opt are read-only: no __pycache__ is written there either.
        env = base_env | {"PYTHONDONTWRITEBYTECODE": "1", "RAG_EMBEDDING_MODEL_DIR": str(bundles["ml"] / "model"),
                          "RAG_CACHE_DIR": str(root / "cache")}
        boto3.client("s3").put_object(Bucket=bucket, Key="NIST.SP.800-207.pdf", Body=PDF.read_bytes())
        run(COLD.format(module="rag_assistant.aws.upload_handler"),
            s3_event("created", bucket, "NIST.SP.800-207.pdf"), env, paths(codes["after"], True))

        query = api_event("POST", "/rag/query", {"question": "What is zero trust?"})
        listing = api_event("GET", "/rag/documents")
        handlers = {"query": ("rag_assistant.aws.query_handler", query, True),
                    "documents": ("rag_assistant.aws.documents_handler", listing, False)}
        samples: dict[str, list[dict]] = {}
        for _ in range(RUNS):  # interleaved: the machine's noise hits all alike
            for name, (module, event, model) in handlers.items():
                for kind, code in codes.items():
                    samples.setdefault(f"{name}-{kind}", []).append(
                        run(COLD.format(module=module), event, env, paths(code, model)))
                samples.setdefault(f"{name}-restore", []).append(
                    run(RESTORE.format(module=module), event, env, paths(codes["after"], model)))

    def median(key: str, field: str) -> float:
        return statistics.median(s[field] for s in samples[key])

    def total(key: str) -> float:
        return median(key, "import_ms") + median(key, "first_call_ms")

    lines = ["## Packaged Lambda handlers: cold start", "",
             f"Command: `.venv/bin/python bench/bench_packaged_cold_start.py` (median of {RUNS}, interleaved; "
             f"before = the code of `{args.baseline}`, after = this tree, same dependency layers and int8 model; "
             "DynamoDB Local + moto; the NIST SP 800-207 PDF indexed)", "",
             "| handler | path | import (or restore hook) ms | first request ms | total ms | ratio to before |",
             "|---|---|---:|---:|---:|---:|"]
    labels = {"before": "cold start, before (baseline)", "after": "cold start, after",
              "restore": "SnapStart restore path, after (hook + first request)"}
    for name in handlers:
        for kind, label in labels.items():
            key = f"{name}-{kind}"
            lines.append(f"| {name} | {label} | {median(key, 'import_ms'):.0f} | {median(key, 'first_call_ms'):.0f} "
                         f"| {total(key):.0f} | x{total(key) / total(f'{name}-before'):.2f} |")
    compiled = packaging.bytecode_compiler(target) is not None
    lines += ["", f"Bundles with bytecode: {'yes' if compiled else 'no'}. The restore path leaves out Lambda's "
              "own restore of the snapshot (AWS documents it in the hundreds of milliseconds for Python; it "
              "is not reproducible here)."]
    write_section("bench_packaged_cold_start", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
