"""The three Lambda handlers end to end on DynamoDB Local and moto's S3/SSM server, invoked
with the events S3 and API Gateway send (tests/events/), the real model and real PDFs."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request

import boto3
import pytest
from conftest import SSDF_PDF, ZERO_TRUST_PDF

# api_event, s3_event and FakeContext are imported from here by bench/ too.
from lambda_support import FakeContext, api_event, invoke_api, invoke_upload, s3_event  # noqa: F401
from lambda_support import reset_handlers as _reset_handlers
from pdf_factory import truncated_pdf


@pytest.fixture()
def openai_key_in_ssm(lambda_env):
    """The SecureString the functions read the OpenAI key from; removed afterwards."""
    secret = "sk-test-0123456789abcdef-not-real"
    ssm = boto3.client("ssm")
    ssm.put_parameter(Name="/rag/openai-api-key", Value=secret, Type="SecureString", Overwrite=True)
    yield secret
    ssm.delete_parameter(Name="/rag/openai-api-key")


def test_pdf_in_the_bucket_is_answered_with_pages_and_listed(lambda_env) -> None:
    s3, bucket = lambda_env["s3"], lambda_env["bucket"]
    key = "docs/NIST SP 800-207 제로 트러스트.pdf"
    s3.put_object(Bucket=bucket, Key=key, Body=ZERO_TRUST_PDF.read_bytes())
    summary = invoke_upload(s3_event("created", bucket, key))
    assert summary["indexed"] == 1 and summary["failed"] == []

    status, body, headers = invoke_api("query", api_event("POST", "/rag/query", {"question": "What are the tenets of zero trust?"}))
    assert status == 200, body
    assert body["answered"] is True
    cited = [s for s in body["sources"] if s["quote"]]
    assert cited and all(s["file_name"] == "NIST SP 800-207 제로 트러스트.pdf" and s["page"] for s in cited)
    # Same origin only by default: no CORS grant, and the contract's security headers.
    assert "access-control-allow-origin" not in headers and headers["x-content-type-options"] == "nosniff"

    # The same event again (S3 delivers at least once): one copy, reported unchanged.
    chunks_before = _chunk_items(lambda_env["table"])
    again = invoke_upload(s3_event("created", bucket, key))
    assert again["unchanged"] == 1 and again["indexed"] == 0
    assert _chunk_items(lambda_env["table"]) == chunks_before

    # A second document, then the listing paginates one at a time.
    s3.put_object(Bucket=bucket, Key="notes/runbook.md", Body=b"# Runbook\n## Rollback\nRedeploy the previous version.")
    invoke_upload(s3_event("created", bucket, "notes/runbook.md"))
    names, cursor = [], None
    while True:
        query = {"limit": "1"} | ({"cursor": cursor} if cursor else {})
        status, page, _ = invoke_api("documents", api_event("GET", "/rag/documents", query=query))
        assert status == 200 and len(page["documents"]) == 1
        names.append(page["documents"][0]["file_name"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert names == ["runbook.md", "NIST SP 800-207 제로 트러스트.pdf"]

    # Deleting the object removes the document and all its chunks.
    s3.delete_object(Bucket=bucket, Key=key)
    removed = invoke_upload(s3_event("removed", bucket, key))
    assert removed["deleted"] == [key]
    status, page, _ = invoke_api("documents", api_event("GET", "/rag/documents"))
    assert [d["file_name"] for d in page["documents"]] == ["runbook.md"]
    assert len(_chunk_items(lambda_env["table"])) == page["documents"][0]["chunk_count"]


def test_a_corrupt_pdf_fails_alone_and_the_batch_is_retried(lambda_env) -> None:
    s3, bucket = lambda_env["s3"], lambda_env["bucket"]
    s3.put_object(Bucket=bucket, Key="bad/cut.pdf", Body=truncated_pdf(SSDF_PDF))
    s3.put_object(Bucket=bucket, Key="good/guide.md", Body="# 가이드\n제로 트러스트 도입 절차를 설명합니다.".encode())
    s3.put_object(Bucket=bucket, Key="ignored/picture.png", Body=b"\x89PNG")
    from rag_assistant.aws.upload_handler import IngestionFailed

    with pytest.raises(IngestionFailed, match="cut.pdf"):
        invoke_upload(s3_event("created", bucket, "bad/cut.pdf", "good/guide.md", "ignored/picture.png"))
    status, page, _ = invoke_api("documents", api_event("GET", "/rag/documents"))
    by_name = {d["file_name"]: d for d in page["documents"]}
    assert by_name["guide.md"]["status"] == "ready"
    assert by_name["cut.pdf"]["status"] == "failed" and "truncated" in by_name["cut.pdf"]["error"]
    assert "picture.png" not in by_name


def test_out_of_time_postpones_the_rest_for_a_retry(lambda_env) -> None:
    s3, bucket = lambda_env["s3"], lambda_env["bucket"]
    s3.put_object(Bucket=bucket, Key="a.txt", Body=b"alpha text")
    from rag_assistant.aws.upload_handler import IngestionFailed

    with pytest.raises(IngestionFailed, match="postponed"):
        invoke_upload(s3_event("created", bucket, "a.txt"), remaining_ms=10_000)


def test_events_that_are_not_s3_notifications_are_rejected(lambda_env) -> None:
    with pytest.raises(ValueError, match="not an S3 event"):
        invoke_upload({"hello": "world"})
    with pytest.raises(ValueError, match="malformed S3 record"):
        invoke_upload({"Records": [{"eventSource": "aws:s3", "s3": {}}]})


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        ('{"question": ', 400, "invalid_json"),
        ("{}", 422, "validation_error"),
        ('{"question": "  "}', 422, "validation_error"),
        ('{"question": "ok", "top_k": 99}', 422, "validation_error"),
        ("", 422, "validation_error"),
    ],
)
def test_query_function_rejects_bad_bodies_with_json_errors(lambda_env, raw, status, code) -> None:
    got, body, headers = invoke_api("query", api_event("POST", "/rag/query", raw=raw))
    assert (got, body["error"]["code"]) == (status, code)
    assert headers["content-type"] == "application/json" and headers["x-frame-options"] == "DENY"


def test_documents_function_errors_and_unknown_routes(lambda_env) -> None:
    assert invoke_api("documents", api_event("GET", "/rag/documents", query={"limit": "0"}))[0] == 422
    assert invoke_api("documents", api_event("GET", "/rag/documents", query={"cursor": "nope"}))[1]["error"]["code"] == "invalid_cursor"
    status, body, _ = invoke_api("documents", api_event("GET", "/rag/documents/doc_missing"))
    assert (status, body["error"]["code"]) == (404, "document_not_found")
    status, body, _ = invoke_api("documents", api_event("GET", "/rag/elsewhere"))
    assert (status, body["error"]["code"]) == (404, "not_found")


def test_presigned_upload_url_puts_into_the_bucket_and_never_overwrites(lambda_env) -> None:
    data = b"# Presigned\nUploaded without AWS credentials."
    status, body, _ = invoke_api("documents", api_event(
        "POST", "/rag/documents/upload-url", {"file_name": "../../etc/회의록.md", "size_bytes": len(data)}))
    assert status == 201, body
    prefix, unique, name = body["key"].split("/")
    assert (prefix, name, len(unique)) == ("uploads", "회의록.md", 32) and body["method"] == "PUT"
    assert body["headers"] == {"Content-Type": "text/markdown", "If-None-Match": "*"}
    request = urllib.request.Request(body["url"], data=data, method="PUT", headers=body["headers"])
    with urllib.request.urlopen(request) as response:
        assert response.status == 200
    stored = lambda_env["s3"].get_object(Bucket=lambda_env["bucket"], Key=body["key"])["Body"].read()
    assert stored == data

    # The same URL again (a replay inside its lifetime) cannot replace what it created ...
    replay = urllib.request.Request(body["url"], data=b"# Replaced\nby someone else!!!!!!!!!!!!!!!!", method="PUT",
                                    headers=body["headers"])
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(replay)
    assert refused.value.code == 412
    assert lambda_env["s3"].get_object(Bucket=lambda_env["bucket"], Key=body["key"])["Body"].read() == data
    # ... and the same name again gets a key of its own.
    again = invoke_api("documents", api_event(
        "POST", "/rag/documents/upload-url", {"file_name": "회의록.md", "size_bytes": len(data)}))[1]
    assert again["key"] != body["key"] and again["key"].endswith("/회의록.md")

    for payload, code in [
        ({"file_name": "macro.docm", "size_bytes": 10}, "unsupported_file"),
        ({"file_name": "huge.pdf", "size_bytes": 10**12}, "file_too_large"),
        ({"file_name": "x.pdf"}, "validation_error"),
    ]:
        assert invoke_api("documents", api_event("POST", "/rag/documents/upload-url", payload))[1]["error"]["code"] == code


def test_delete_route_removes_the_object_and_the_upload_function_the_chunks(lambda_env) -> None:
    s3, bucket = lambda_env["s3"], lambda_env["bucket"]
    s3.put_object(Bucket=bucket, Key="uploads/memo.txt", Body=b"memo about zero trust gateways")
    invoke_upload(s3_event("created", bucket, "uploads/memo.txt"))
    doc_id = invoke_api("documents", api_event("GET", "/rag/documents"))[1]["documents"][0]["document_id"]
    status, body, _ = invoke_api("documents", api_event("DELETE", f"/rag/documents/{doc_id}"))
    assert (status, body["status"]) == (202, "deleting")
    with pytest.raises(s3.exceptions.ClientError):
        s3.head_object(Bucket=bucket, Key="uploads/memo.txt")
    invoke_upload(s3_event("removed", bucket, "uploads/memo.txt"))
    assert invoke_api("documents", api_event("GET", f"/rag/documents/{doc_id}"))[0] == 404
    assert _chunk_items(lambda_env["table"]) == []


def test_a_late_removal_does_not_undo_a_newer_upload(lambda_env) -> None:
    s3, bucket = lambda_env["s3"], lambda_env["bucket"]
    s3.put_object(Bucket=bucket, Key="k.md", Body=b"# K\nstill here")
    invoke_upload(s3_event("created", bucket, "k.md"))
    result = invoke_upload(s3_event("removed", bucket, "k.md"))  # re-ordered: the object exists
    assert result["deleted"] == []
    assert invoke_api("documents", api_event("GET", "/rag/documents"))[1]["documents"][0]["status"] == "ready"


def test_openai_key_comes_from_ssm_and_never_reaches_the_logs(openai_key_in_ssm, monkeypatch, caplog) -> None:
    import rag_assistant.aws.observability  # noqa: F401 - what loading any handler does
    from rag_assistant.aws import runtime
    from rag_assistant.aws.secrets import openai_api_key

    secret = openai_key_in_ssm
    monkeypatch.setenv("LLM_PROVIDER", "openai")
    runtime.reset()
    with caplog.at_level(logging.DEBUG):
        key = openai_api_key(runtime.settings())
        runtime.answering_service()
        used = runtime.answering_settings()
    assert key is not None and key.get_secret_value() == secret
    assert used.openai_api_key.get_secret_value() == secret
    assert secret not in caplog.text and secret not in repr(used)


def test_documents_function_does_not_import_the_embedding_stack() -> None:
    import subprocess
    import sys

    code = (
        "import sys, rag_assistant.aws.documents_handler as h; "
        "heavy = [m for m in ('numpy', 'onnxruntime', 'tokenizers', 'pypdfium2', 'fastapi', 'onnx', 'apsw') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "ap-northeast-2"})
    assert out.stdout.strip() == ""


def _chunk_items(table: str) -> list[str]:
    items = boto3.client("dynamodb").scan(TableName=table, ProjectionExpression="document_id, chunk_id")["Items"]
    return sorted(i["chunk_id"]["S"] for i in items if not i["chunk_id"]["S"].startswith("#")
                  and not i["document_id"]["S"].startswith("#"))


_DYNAMODB_WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


def _record_dynamodb_calls(calls: list[str]):
    def record(model, **_):  # botocore's before-call hook: one per API call sent
        calls.append(model.name)

    return record


def test_query_and_documents_functions_only_read_the_table(lambda_env) -> None:
    """Their IAM roles grant reads only (tests/infrastructure checks the roles)."""
    from rag_assistant.aws import runtime

    s3, bucket = lambda_env["s3"], lambda_env["bucket"]
    calls: list[str] = []
    # An empty table first: a question must not claim the embedding model either.
    session_hook = _record_dynamodb_calls(calls)
    boto3.DEFAULT_SESSION or boto3.setup_default_session()
    boto3.DEFAULT_SESSION.events.register("before-call.dynamodb", session_hook)
    try:
        status, body, _ = invoke_api("query", api_event("POST", "/rag/query", {"question": "anything indexed?"}))
        assert status == 200 and body["answered"] is False
        assert calls and not _DYNAMODB_WRITES & set(calls), calls

        s3.put_object(Bucket=bucket, Key="a.md", Body=b"# Rollback\nRedeploy the previous version to roll back.")
        invoke_upload(s3_event("created", bucket, "a.md"))
        runtime.reset()
        _reset_handlers()
        calls.clear()
        status, body, _ = invoke_api("query", api_event("POST", "/rag/query", {"question": "How do I roll back?"}))
        assert status == 200 and body["answered"] is True
        status, _, _ = invoke_api("documents", api_event("GET", "/rag/documents"))
        assert status == 200
        assert {"GetItem", "Query"} <= set(calls) and not _DYNAMODB_WRITES & set(calls), calls
    finally:
        boto3.DEFAULT_SESSION.events.unregister("before-call.dynamodb", session_hook)


def test_a_lifecycle_expiration_removes_the_document(lambda_env) -> None:
    s3, bucket = lambda_env["s3"], lambda_env["bucket"]
    s3.put_object(Bucket=bucket, Key="old.txt", Body=b"An old note about the retention of backups.")
    assert invoke_upload(s3_event("created", bucket, "old.txt"))["indexed"] == 1
    s3.delete_object(Bucket=bucket, Key="old.txt")
    event = s3_event("removed", bucket, "old.txt")
    event["Records"][0]["eventName"] = "LifecycleExpiration:Delete"
    assert invoke_upload(event)["deleted"] == ["old.txt"]
    assert _chunk_items(lambda_env["table"]) == []


def test_query_function_answers_with_openai_using_the_key_from_ssm(lambda_env, openai_key_in_ssm, monkeypatch) -> None:
    """Protocol test: the official SDK against tests/openai_wire.py, the key read from SSM."""
    from openai_wire import Script, openai_wire_server

    from rag_assistant.aws import runtime

    s3, bucket = lambda_env["s3"], lambda_env["bucket"]
    s3.put_object(Bucket=bucket, Key="runbook.md", Body=b"# Rollback\nTo roll back, redeploy the previous version.")
    invoke_upload(s3_event("created", bucket, "runbook.md"))
    script = Script(reply="Redeploy the previous version [1].")
    with openai_wire_server(script) as url:
        monkeypatch.setenv("LLM_PROVIDER", "openai")
        monkeypatch.setenv("OPENAI_BASE_URL", url)
        runtime.reset()
        _reset_handlers()
        status, body, _ = invoke_api("query", api_event("POST", "/rag/query", {"question": "How do I roll back?"}))
    assert status == 200, body
    assert (body["generator"], body["answer"], body["grounded"]) == ("openai", "Redeploy the previous version [1].", True)
    assert body["sources"][0]["cited"] is True and body["usage"]["output_tokens"] == 12
    assert script.headers[0]["authorization"] == f"Bearer {openai_key_in_ssm}"


def test_functions_embed_with_openai_using_the_key_from_ssm(lambda_env, openai_key_in_ssm, monkeypatch) -> None:
    """Protocol test: EMBEDDING_MODEL_NAME=openai/...: the upload function reads the key too."""
    from openai_wire import Script, openai_wire_server

    from rag_assistant.aws import runtime

    s3, bucket = lambda_env["s3"], lambda_env["bucket"]
    s3.put_object(Bucket=bucket, Key="backup.md", Body=b"# Backups\nThe nightly backup runs at two o'clock.")
    s3.put_object(Bucket=bucket, Key="bread.md", Body=b"# Bread\nFlour, water, salt and yeast.")
    script = Script()
    with openai_wire_server(script) as url:
        monkeypatch.setenv("EMBEDDING_MODEL_NAME", "openai/text-embedding-3-small")
        monkeypatch.setenv("OPENAI_BASE_URL", url)
        runtime.reset()
        _reset_handlers()
        assert invoke_upload(s3_event("created", bucket, "backup.md", "bread.md"))["indexed"] == 2
        status, body, _ = invoke_api("query", api_event("POST", "/rag/query", {"question": "When does the nightly backup run?"}))
    assert status == 200 and body["sources"][0]["file_name"] == "backup.md", body
    assert all(h["authorization"] == f"Bearer {openai_key_in_ssm}" for h in script.headers)
    assert {r["model"] for r in script.requests} == {"text-embedding-3-small"}


@pytest.mark.parametrize("module", ["upload_handler", "query_handler", "documents_handler"])
def test_each_function_alone_logs_through_the_powertools_json_handler(module) -> None:
    """In a process that imports only its handler (as Lambda does), our loggers end at
    Powertools' JSON handler, whichever of our modules logs."""
    import subprocess
    import sys

    code = (
        "import logging, json; from rag_assistant.aws import " + module + "; "
        "from rag_assistant.aws.observability import logger; "
        "base = logging.getLogger('rag_assistant'); "
        "late = logging.getLogger('rag_assistant.created.later'); "
        "print(json.dumps([base.handlers == logger.handlers, bool(base.handlers), base.propagate, "
        "late.getEffectiveLevel() <= logging.INFO]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "ap-northeast-2",
                              "AWS_LAMBDA_FUNCTION_NAME": "x", "LOG_LEVEL": "INFO"})
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [True, True, False, True]


def test_with_bucket_versioning_a_delete_keeps_the_old_version_and_empties_the_index(lambda_env) -> None:
    """bucketVersioning (production): DELETE leaves a delete marker, S3 sends
    ObjectRemoved:DeleteMarkerCreated, the chunks go, the file stays recoverable."""
    s3, bucket = lambda_env["s3"], lambda_env["bucket"]
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key="uploads/a1/memo.md", Body=b"# Memo\nThe backup runs nightly.")
    invoke_upload(s3_event("created", bucket, "uploads/a1/memo.md"))
    doc_id = invoke_api("documents", api_event("GET", "/rag/documents"))[1]["documents"][0]["document_id"]
    assert invoke_api("documents", api_event("DELETE", f"/rag/documents/{doc_id}"))[0] == 202
    event = s3_event("removed", bucket, "uploads/a1/memo.md")
    event["Records"][0]["eventName"] = "ObjectRemoved:DeleteMarkerCreated"
    assert invoke_upload(event)["deleted"] == ["uploads/a1/memo.md"]
    assert invoke_api("documents", api_event("GET", f"/rag/documents/{doc_id}"))[0] == 404
    versions = s3.list_object_versions(Bucket=bucket, Prefix="uploads/a1/")
    assert len(versions["Versions"]) == 1 and len(versions["DeleteMarkers"]) == 1


def test_every_file_the_page_links_is_served_by_the_documents_function() -> None:
    # Under the stage the page loads its parts (icon included) from the documents function's
    # short list of files; one missing there is a 404 only a browser on AWS would see.
    import re
    from importlib import resources

    from rag_assistant.aws.documents_handler import PAGE_FILES, page_file

    html = (resources.files("rag_assistant") / "web" / "index.html").read_text(encoding="utf-8")
    linked = re.findall(r'(?:href|src)="static/([^"]+)"', html)
    assert "favicon.svg" in linked and "app.js" in linked
    for name in linked:
        assert name in PAGE_FILES and page_file(name), name
    assert PAGE_FILES["favicon.svg"] == "image/svg+xml"
