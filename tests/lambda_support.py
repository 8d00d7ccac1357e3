"""The Lambda side of the tests: the context object, the events S3 and API Gateway send
(from tests/events/), and the handlers' environment on DynamoDB Local and moto.

A pytest plugin (tests/conftest.py): every test module gets the `lambda_env` fixture.
"""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from urllib.parse import quote_plus

import boto3
import pytest
from aws_services import create_bucket, create_table

EVENTS = Path(__file__).parent / "events"
API_HOST = "abc123.execute-api.ap-northeast-2.amazonaws.com"


class FakeContext:
    """The attributes of the Lambda context object the handlers read."""

    function_name = "rag-test"
    function_version = "$LATEST"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:ap-northeast-2:123456789012:function:rag-test"
    aws_request_id = "52fdfc07-2182-154f-163f-5f0f9a621d72"
    log_group_name = "/aws/lambda/rag-test"
    log_stream_name = "2026/11/27/[$LATEST]abc"

    def __init__(self, remaining_ms: int = 900_000) -> None:
        self._remaining = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self._remaining


def s3_event(kind: str, bucket: str, *keys: str, size: int = 1000) -> dict:
    template = json.loads((EVENTS / f"s3_object_{kind}.json").read_text())
    records = []
    for key in keys:
        record = copy.deepcopy(template["Records"][0])
        record["s3"]["bucket"]["name"] = bucket
        record["s3"]["bucket"]["arn"] = f"arn:aws:s3:::{bucket}"
        record["s3"]["object"]["key"] = quote_plus(key)  # as S3 sends it
        if "size" in record["s3"]["object"]:
            record["s3"]["object"]["size"] = size
        records.append(record)
    return {"Records": records}


def api_event(method: str, path: str, body: object = None, query: dict | None = None, raw: str | bytes | None = None,
              headers: dict[str, str] | None = None, stage_path: str | None = None) -> dict:
    """A REST API proxy event as API Gateway sends it. `raw` bytes that are not UTF-8 arrive
    base64-encoded (isBase64Encoded), as API Gateway passes binary bodies."""
    event = json.loads((EVENTS / "apigw_rest_proxy.json").read_text())
    event["httpMethod"] = event["requestContext"]["httpMethod"] = method
    event["path"] = path
    event["resource"] = event["requestContext"]["resourcePath"] = path
    event["requestContext"]["path"] = stage_path if stage_path is not None else f"/prod{path}"
    event["queryStringParameters"] = query
    event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} if query else None
    event["headers"] = {**event["headers"], **(headers or {})}
    if isinstance(raw, bytes):
        try:
            event["body"] = raw.decode("utf-8")
        except UnicodeDecodeError:
            event["body"], event["isBase64Encoded"] = base64.b64encode(raw).decode(), True
    else:
        event["body"] = raw if raw is not None else (json.dumps(body) if body is not None else None)
    return event


def reset_handlers() -> None:
    from rag_assistant.aws import documents_handler, query_handler

    documents_handler.handler.reset()
    query_handler.handler.reset()


def invoke_upload(event: dict, remaining_ms: int = 900_000):
    from rag_assistant.aws.upload_handler import handler

    return handler(event, FakeContext(remaining_ms))


def invoke_api(function: str, event: dict) -> tuple[int, dict, dict]:
    """(status, JSON body or {}, lower-cased headers) of one API function's answer."""
    from rag_assistant.aws import documents_handler, query_handler

    handler = {"query": query_handler.handler, "documents": documents_handler.handler}[function]
    response = handler(event, FakeContext())
    text = response.get("body") or ""
    try:
        body = json.loads(text) if text else {}
    except ValueError:
        body = {"_text": text}
    return response["statusCode"], body, response_headers(response)


def response_headers(response: dict) -> dict[str, str]:
    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    for k, v in (response.get("multiValueHeaders") or {}).items():
        headers.setdefault(k.lower(), ", ".join(v) if isinstance(v, list) else v)
    return headers


def lambda_environment(table: str, bucket: str, model_cache: Path, **extra: str) -> dict[str, str]:
    return {
        "VECTORSTORE_BACKEND": "dynamodb", "VECTORSTORE_TABLE_NAME": table, "BUCKET_NAME": bucket,
        "RAG_CACHE_DIR": str(model_cache), "LLM_PROVIDER": "extractive", "LOG_LEVEL": "INFO",
        "AWS_LAMBDA_FUNCTION_NAME": "rag-test", "POWERTOOLS_METRICS_NAMESPACE": "RagAssistant", **extra,
    }


@pytest.fixture()
def lambda_env(aws_environment, monkeypatch, model_cache):
    """A fresh table and bucket, the functions' environment, and their caches reset."""
    from rag_assistant.aws import runtime

    table, bucket = create_table(), create_bucket()
    for name, value in lambda_environment(table, bucket, model_cache).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    runtime.reset()
    reset_handlers()
    yield {"table": table, "bucket": bucket, "s3": boto3.client("s3")}
    runtime.reset()
    reset_handlers()
