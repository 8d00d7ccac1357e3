"""The Lambda assets, built without Docker as `cdk synth` builds them: sizes within Lambda's
limits, only what the functions import, and the built packages really running the handlers
(against DynamoDB Local and moto's S3) from a Python that sees nothing but the assets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cdk_support import CDK_DIR, local_bundles  # noqa: F401 - puts infrastructure/cdk on sys.path; a fixture

from rag_stack import packaging

REPO = Path(__file__).resolve().parents[2]
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def lambda_bundles(tmp_path_factory) -> dict[str, Path]:
    """The default deployment's bundles: Python 3.12, x86_64, shared layers."""
    root = tmp_path_factory.mktemp("bundles")
    target = packaging.Target("3.12", "x86_64")
    return {kind: packaging.build_bundle(root / kind, pieces, target, layer=kind != "code")
            for kind, pieces in packaging.bundle_kinds(True).items()}


def test_every_function_fits_lambdas_250_mb_and_the_documents_function_stays_small(lambda_bundles) -> None:
    sizes = {kind: packaging.tree_bytes(path) for kind, path in lambda_bundles.items()}
    documents = sizes["code"] + sizes["common"]
    embedding = sizes["code"] + sizes["common"] + sizes["ml"]  # upload and query functions
    assert embedding < packaging.LAMBDA_LIMIT_BYTES, f"{embedding / MIB:.1f} MiB"
    # 203 MiB before the sentence reader (23 MiB, int8) joined the model layer.
    assert embedding < 230 * MIB, f"{embedding / MIB:.1f} MiB: less than 20 MiB of headroom left, check what grew"
    assert documents < 30 * MIB, f"{documents / MIB:.1f} MiB"


def test_bundles_hold_what_the_functions_import_for_the_lambda_platform(lambda_bundles) -> None:
    common, ml = lambda_bundles["common"] / "python", lambda_bundles["ml"] / "python"
    assert (lambda_bundles["code"] / "rag_assistant" / "aws" / "query_handler.py").is_file()
    # The documents function serves the page from its code: its four files, nothing else.
    web = lambda_bundles["code"] / "rag_assistant" / "web"
    assert sorted(p.name for p in web.iterdir()) == ["app.js", "favicon.svg", "index.html", "style.css"]
    # The sentence reader's trained layers ship in the model layer (exported), not in the code.
    assert not list(lambda_bundles["code"].rglob("*.safetensors"))
    reader = json.loads((lambda_bundles["ml"] / "model" / "reader" / "reader.json").read_text())
    assert reader["quantization"] == "int8" and (lambda_bundles["ml"] / "model" / "reader" / "model.onnx").is_file()
    for name in ("pydantic", "pydantic_core", "pydantic_settings", "aws_lambda_powertools"):
        assert (common / name).is_dir(), name
    for name in ("numpy", "onnxruntime", "tokenizers", "pypdfium2", "charset_normalizer", "markdown_it"):
        assert (ml / name).is_dir(), name
    everything = [p for bundle in lambda_bundles.values() for p in bundle.rglob("*")]
    names = {p.name for p in everything}
    # Not bundled: the runtime's boto3, torch, the hub client, onnxruntime's tooling, tests, caches.
    assert not names & {"boto3", "botocore", "torch", "huggingface_hub", "sympy", "tests"}
    # Bytecode for the runtime's Python when an interpreter of that version is at hand.
    pycs = [p.name for p in everything if p.suffix == ".pyc"]
    compiler = packaging.bytecode_compiler(packaging.Target("3.12", "x86_64"))
    assert bool(pycs) == bool(compiler) and all(".cpython-312." in n for n in pycs)
    assert not (ml / "onnxruntime" / "transformers").exists()
    extensions = [p.name for p in everything if p.suffix == ".so" and "cpython" in p.name]
    assert extensions and all("cpython-312-x86_64-linux-gnu" in n for n in extensions), extensions[:5]


def test_the_embedding_layer_carries_the_int8_model(lambda_bundles) -> None:
    model = lambda_bundles["ml"] / "model"
    manifest = json.loads((model / "model.json").read_text())
    assert manifest["name"] == "sentence-transformers/all-MiniLM-L6-v2" and manifest["quantization"] == "int8"
    assert (model / "tokenizer.json").is_file()
    assert (model / "model.onnx").stat().st_size < 30 * MIB  # fp32 is 90 MB


def test_int8_model_agrees_with_sentence_transformers(lambda_bundles) -> None:
    """The golden vectors sentence-transformers made (tests/fixtures), embedded by the int8 export."""
    import numpy as np

    from rag_assistant.embedding.registry import create_embedder

    reference = json.loads((REPO / "tests" / "fixtures" / "minilm_reference.json").read_text())
    embedder = create_embedder("sentence-transformers/all-MiniLM-L6-v2", cache_dir=Path("/nonexistent"),
                               model_dir=lambda_bundles["ml"] / "model")
    texts, expected = reference["texts"], np.asarray(reference["vectors"], dtype=np.float32)
    cosines = (embedder.embed_documents(texts) * expected).sum(axis=1)
    assert cosines.min() > 0.97, cosines


_DRIVER = r"""
import json, sys
sys.path[:0] = json.loads(sys.argv[1])
event = json.loads(sys.stdin.read())

class Context:
    function_name = "rag-packaged"; function_version = "$LATEST"; memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:ap-northeast-2:123456789012:function:rag-packaged"
    aws_request_id = "packaged-test"; log_group_name = "/aws/lambda/rag-packaged"; log_stream_name = "s"
    def get_remaining_time_in_millis(self): return 900_000

import importlib
handler = importlib.import_module(sys.argv[2]).handler
result = handler(event, Context())
heavy = sorted(m for m in ("numpy", "onnxruntime", "tokenizers") if m in sys.modules)
print(json.dumps({"result": result, "heavy": heavy}))
"""


def _invoke_packaged(handler: str, event: dict, paths: list[Path], env: dict[str, str]) -> dict:
    # -S: no site-packages at all, so every import must come from the assets (or the runtime's boto3).
    completed = subprocess.run(
        [sys.executable, "-S", "-c", _DRIVER, json.dumps([str(p) for p in paths]), handler],
        input=json.dumps(event), capture_output=True, text=True, env=env, timeout=300)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_packaged_handlers_ingest_answer_and_list_from_the_assets_alone(aws_environment, local_bundles,
                                                                         tmp_path) -> None:
    """Built for this machine's Python (3.11) by the same code that builds the 3.12 deployment."""
    import boto3
    from aws_services import create_bucket, create_table, lambda_runtime_site
    from conftest import SSDF_PDF

    target = packaging.Target(f"{sys.version_info.major}.{sys.version_info.minor}", "x86_64")
    bundles = local_bundles
    # With an interpreter of the target version at hand (here: this one), bundles ship bytecode
    # that Lambda's read-only filesystem could not cache, and still fit the limit.
    assert packaging.bytecode_compiler(target)
    assert list((bundles["common"] / "python" / "pydantic").glob("__pycache__/*.cpython-311.pyc"))
    total = sum(packaging.tree_bytes(b) for b in bundles.values())
    assert total < packaging.LAMBDA_LIMIT_BYTES, f"{total / MIB:.1f} MiB with bytecode"
    runtime = lambda_runtime_site(tmp_path / "lambda-runtime")
    table, bucket = create_table(), create_bucket()
    env = {k: v for k, v in os.environ.items() if k.startswith("AWS_")} | {
        "PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "VECTORSTORE_BACKEND": "dynamodb",
        "VECTORSTORE_TABLE_NAME": table, "BUCKET_NAME": bucket, "LLM_PROVIDER": "extractive",
        "LOG_LEVEL": "WARNING", "AWS_LAMBDA_FUNCTION_NAME": "rag-packaged", "RAG_CACHE_DIR": str(tmp_path / "cache"),
        "PYTHONDONTWRITEBYTECODE": "1",  # read-only, as /var/task and /opt are
        "RAG_EMBEDDING_MODEL_DIR": str(bundles["ml"] / "model"), "POWERTOOLS_METRICS_NAMESPACE": "RagAssistant",
    }
    full = [bundles["code"], bundles["common"] / "python", bundles["ml"] / "python", runtime]
    small = [bundles["code"], bundles["common"] / "python", runtime]

    key = "policies/NIST SSDF.pdf"
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=SSDF_PDF.read_bytes())
    s3_event = json.loads((REPO / "tests" / "events" / "s3_object_created.json").read_text())
    s3_event["Records"][0]["s3"]["bucket"]["name"] = bucket
    s3_event["Records"][0]["s3"]["object"]["key"] = "policies/NIST+SSDF.pdf"
    s3_event["Records"][0]["s3"]["object"]["size"] = SSDF_PDF.stat().st_size
    ingested = _invoke_packaged("rag_assistant.aws.upload_handler", s3_event, full, env)["result"]
    assert ingested["indexed"] == 1, ingested

    api_event = json.loads((REPO / "tests" / "events" / "apigw_rest_proxy.json").read_text())
    query = dict(api_event, httpMethod="POST", path="/rag/query", resource="/rag/query",
                 body=json.dumps({"question": "What practices does the SSDF recommend for protecting software?"}))
    query["requestContext"] = dict(api_event["requestContext"], httpMethod="POST", resourcePath="/rag/query")
    answered = _invoke_packaged("rag_assistant.aws.query_handler", query, full, env)["result"]
    body = json.loads(answered["body"])
    assert answered["statusCode"] == 200 and body["answered"] is True, body
    assert any(s["file_name"] == "NIST SSDF.pdf" and s["page"] for s in body["sources"])

    listing = dict(api_event, httpMethod="GET", path="/rag/documents", resource="/rag/documents", body=None)
    listing["requestContext"] = dict(api_event["requestContext"], httpMethod="GET", resourcePath="/rag/documents")
    listed = _invoke_packaged("rag_assistant.aws.documents_handler", listing, small, env)
    assert listed["heavy"] == []  # without the embedding layer on its path at all
    documents = json.loads(listed["result"]["body"])["documents"]
    assert [d["file_name"] for d in documents] == ["NIST SSDF.pdf"]

    # The bundled OpenAI SDK answers too (against the local wire-format server).
    from openai_wire import Script, openai_wire_server

    script = Script(reply="Protect the software from tampering [1].")
    with openai_wire_server(script) as url:
        llm_env = env | {"LLM_PROVIDER": "openai-compatible", "LLM_BASE_URL": url, "LLM_MODEL": "llama3.2"}
        answered = _invoke_packaged("rag_assistant.aws.query_handler", query, full, llm_env)["result"]
    body = json.loads(answered["body"])
    assert (body["generator"], body["answer"], body["grounded"]) == (
        "openai-compatible", "Protect the software from tampering [1].", True), body
