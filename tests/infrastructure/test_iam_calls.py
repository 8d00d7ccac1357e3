"""IAM proven by the calls: the three packaged functions run the whole path of a document
(upload, duplicate and late events, a question with the key from SSM, list/get/upload-url,
delete and the removal that follows) as Lambda runs them, each in its own process, with
credentials of a role holding exactly its policies from the synthesized template, against
moto's server enforcing IAM (S3, SSM) and DynamoDB Local.

Every AWS API call they make is recorded (botocore events, tests/lambda_driver.py) and
judged against the template by IAM's rules (tests/iam_policy.py), including the AWS rules
no emulator here applies (iam_policy.AWS_RULES). Every call must be allowed; every granted
action must be used by some call or carry a reason in REASONS. The same run shows the
functions' log lines as CloudWatch Logs would hold them."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import urllib.request
from pathlib import Path

import pytest
from cdk_support import ACCOUNT, REGION, default_stack, local_bundles  # noqa: F401 - fixtures
from iam_policy import AWS_RULES, Deployment, Facts, check_calls, needs, without_action
from lambda_harness import FunctionProcess, running_iam_moto
from test_aws_handlers import api_event, s3_event

REPO = Path(__file__).resolve().parents[2]
UPLOAD, QUERY, DOCUMENTS = "rag-upload-handler", "rag-query-handler", "rag-documents-handler"
HANDLERS = {UPLOAD: "rag_assistant.aws.upload_handler", QUERY: "rag_assistant.aws.query_handler",
            DOCUMENTS: "rag_assistant.aws.documents_handler"}
OPENAI_KEY = "sk-test-from-ssm-0123456789-not-real"

#: Granted actions no recorded call uses, and why each is granted all the same.
REASONS = {
    (None, "logs:CreateLogStream"): "Lambda writes the function's output to its log group with the function's role.",
    (None, "logs:PutLogEvents"): "Lambda writes the function's output to its log group with the function's role.",
    (UPLOAD, "sqs:SendMessage"): "Lambda's on-failure destination sends a failed S3 event to the DLQ with "
                                 "the function's role.",
    (UPLOAD, "sqs:GetQueueAttributes"): "CDK's grant for an SQS destination (Lambda reads the queue's attributes).",
    (UPLOAD, "sqs:GetQueueUrl"): "CDK's grant for an SQS destination (Lambda resolves the queue).",
    (QUERY, "s3:GetObject"): "A cold query instance loads the corpus snapshot (only that key) once the manifest "
                             "lists SNAPSHOT_MIN_DOCUMENTS (10) documents; this path indexes one "
                             "(tests/test_corpus_snapshot.py runs the snapshot path).",
}

DOCUMENT = (b"# Zero trust gateways\n\n## What zero trust assumes\n\nZero trust assumes no implicit trust "
            b"is granted to assets or user accounts based only on their network location. Every request "
            b"is authenticated and authorized before a session to a resource is established.\n")


def _deployment(template: dict) -> Deployment:
    return Deployment(template, ACCOUNT, REGION)


@pytest.fixture(scope="module")
def stage(default_stack, local_bundles, dynamodb_local, tmp_path_factory):
    """The synthesized stack's data stores on the stand-ins, and a way to start its functions."""
    import boto3
    from aws_services import lambda_runtime_site

    from rag_assistant.store.dynamodb_catalog import table_definition

    folder = tmp_path_factory.mktemp("iam-run")
    deployment = _deployment(default_stack[1].to_json())
    bucket = deployment.environment(UPLOAD)["BUCKET_NAME"]
    table = deployment.environment(UPLOAD)["VECTORSTORE_TABLE_NAME"]
    runtime_site = lambda_runtime_site(folder / "lambda-runtime")
    dynamodb = boto3.client("dynamodb", endpoint_url=dynamodb_local, region_name=REGION,
                            aws_access_key_id="local", aws_secret_access_key="local")
    dynamodb.create_table(**table_definition(table))
    with running_iam_moto(REGION) as moto:
        moto.client("s3").create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        moto.client("ssm").put_parameter(Name="/rag/openai-api-key", Value=OPENAI_KEY, Type="SecureString")

        def start(name: str, policies: list[dict] | None = None, role: str | None = None,
                  extra_env: dict[str, str] | None = None) -> FunctionProcess:
            credentials = moto.role_credentials(role or f"{name}-role",
                                                deployment.identity_policies(name) if policies is None else policies)
            env = deployment.environment(name)
            paths = [local_bundles["code"], local_bundles["common"] / "python"]
            if "RAG_EMBEDDING_MODEL_DIR" in env:
                env["RAG_EMBEDDING_MODEL_DIR"] = str(local_bundles["ml"] / "model")
                paths.append(local_bundles["ml"] / "python")
            env |= {"RAG_CACHE_DIR": str(folder / "cache"), "AWS_LAMBDA_FUNCTION_NAME": name,
                    "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION, "AWS_ENDPOINT_URL": moto.url,
                    "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_local, "PATH": "/usr/bin:/bin", "HOME": str(folder),
                    "PYTHONDONTWRITEBYTECODE": "1"} | credentials | (extra_env or {})
            return FunctionProcess(role or name, HANDLERS[name], [*paths, runtime_site], env, folder)

        yield {"deployment": deployment, "moto": moto, "bucket": bucket, "table": table, "start": start,
               "dynamodb": dynamodb}
    dynamodb.delete_table(TableName=table)


@pytest.fixture(scope="module")
def run(stage):
    """The end-to-end path, once; every step's result by name, and each function's process."""
    from openai_wire import Script, openai_wire_server

    moto, bucket = stage["moto"], stage["bucket"]
    s3 = moto.client("s3")
    script = Script(reply="Zero trust grants no implicit trust based on network location [1].")
    steps: dict[str, dict] = {}
    with openai_wire_server(script) as wire:
        functions = {UPLOAD: stage["start"](UPLOAD), QUERY: stage["start"](QUERY, extra_env={"OPENAI_BASE_URL": wire}),
                     DOCUMENTS: stage["start"](DOCUMENTS)}
        upload, query, documents = functions[UPLOAD], functions[QUERY], functions[DOCUMENTS]
        moto.enforce()
        try:
            key, empty = "guides/zero trust.md", "notes/empty.txt"
            s3.put_object(Bucket=bucket, Key=key, Body=DOCUMENT)
            s3.put_object(Bucket=bucket, Key=empty, Body=b"")
            steps["created"] = upload.invoke(s3_event("created", bucket, key))
            steps["created_empty"] = upload.invoke(s3_event("created", bucket, empty))
            steps["duplicate"] = upload.invoke(s3_event("created", bucket, key))
            steps["question"] = query.invoke(api_event("POST", "/rag/query", {"question": "What does zero trust assume?"}))
            steps["config"] = query.invoke(api_event("GET", "/rag/config"))  # the query function's describe()
            steps["listing"] = documents.invoke(api_event("GET", "/rag/documents"))
            listed = {d["file_name"]: d for d in _body(steps["listing"])["documents"]}
            document_id = listed["zero trust.md"]["document_id"]
            steps["get"] = documents.invoke(api_event("GET", f"/rag/documents/{document_id}"))
            steps["get_missing"] = documents.invoke(api_event("GET", "/rag/documents/doc_nothing"))
            data = b"# Runbook\n\nRoll back by redeploying the previous version."
            steps["upload_url"] = documents.invoke(api_event(
                "POST", "/rag/documents/upload-url", {"file_name": "runbook.md", "size_bytes": len(data)}))
            target = _body(steps["upload_url"])
            with moto.unchecked():  # moto cannot authorize presigned requests (iam_policy's rule does)
                put = urllib.request.Request(target["url"], data=data, method="PUT", headers=target["headers"])
                steps["presigned_put"] = {"status": urllib.request.urlopen(put).status}
            steps["created_upload"] = upload.invoke(s3_event("created", bucket, target["key"]))
            steps["delete"] = documents.invoke(api_event("DELETE", f"/rag/documents/{document_id}"))
            steps["removed"] = upload.invoke(s3_event("removed", bucket, key))
            steps["removed_again"] = upload.invoke(s3_event("removed", bucket, key))
            steps["created_but_gone"] = upload.invoke(s3_event("created", bucket, "guides/gone.md"))
            steps["get_deleted"] = documents.invoke(api_event("GET", f"/rag/documents/{document_id}"))
            steps["listing_after"] = documents.invoke(api_event("GET", "/rag/documents"))
        finally:
            for function in functions.values():
                function.close()
    parameter_keys = {p["Name"]: (None if p.get("KeyId", "alias/aws/ssm") == "alias/aws/ssm" else p["KeyId"])
                      for p in moto.client("ssm").describe_parameters()["Parameters"]}
    chunks = stage["dynamodb"].scan(TableName=stage["table"])["Items"]
    return {"deployment": stage["deployment"], "steps": steps, "functions": functions, "facts": Facts(parameter_keys=parameter_keys),
            "wire": script, "document_id": document_id, "items": chunks}


def _body(step: dict) -> dict:
    assert "result" in step, step
    return json.loads(step["result"]["body"])


# --- the path works on roles that are exactly the synthesized ones --------------------------------


def test_the_whole_path_works_with_exactly_the_synthesized_roles(run) -> None:
    steps = run["steps"]
    assert steps["created"]["result"]["indexed"] == 1, steps["created"]
    assert steps["created_empty"]["error"] == "IngestionFailed" and "empty.txt" in steps["created_empty"]["message"]
    assert steps["duplicate"]["result"]["unchanged"] == 1
    answer = _body(steps["question"])
    assert answer["generator"] == "openai" and answer["answered"] is True, answer
    # The key the query role read from SSM (under IAM) is what reached the provider.
    assert run["wire"].headers[-1]["authorization"] == f"Bearer {OPENAI_KEY}"
    assert _body(steps["config"])["upload_mode"] == "presigned"
    assert _body(steps["get"])["file_name"] == "zero trust.md"
    assert steps["get_missing"]["result"]["statusCode"] == 404
    assert steps["upload_url"]["result"]["statusCode"] == 201 and steps["presigned_put"]["status"] == 200
    assert steps["created_upload"]["result"]["indexed"] == 1
    assert steps["delete"]["result"]["statusCode"] == 202
    # S3's ObjectRemoved event then makes the upload function drop the document and its chunks.
    assert steps["removed"]["result"]["deleted"] == ["guides/zero trust.md"]
    assert steps["removed_again"]["result"]["deleted"] == ["guides/zero trust.md"]  # a duplicate event
    assert steps["created_but_gone"]["result"]["deleted"] == ["guides/gone.md"]
    assert steps["get_deleted"]["result"]["statusCode"] == 404
    names = {d["file_name"] for d in _body(steps["listing_after"])["documents"]}
    assert names == {"runbook.md", "empty.txt"}
    assert not [i for i in run["items"] if i["document_id"]["S"] == run["document_id"]]


# --- every call allowed, every grant used or reasoned --------------------------------------------


def _calls(run) -> dict[str, list[dict]]:
    return {name: run["functions"][name].calls() for name in HANDLERS}


def test_every_call_of_the_three_functions_is_recorded_across_the_path(run) -> None:
    made = {name: {(c["signing_name"], c["operation"], c.get("error")) for c in calls}
            for name, calls in _calls(run).items()}
    assert {("s3", "GetObject", None), ("s3", "HeadObject", "404"), ("s3", "GetObject", "NoSuchKey"),
            ("dynamodb", "BatchWriteItem", None), ("dynamodb", "TransactWriteItems", None)} <= made[UPLOAD], made[UPLOAD]
    assert {("ssm", "GetParameter", None), ("dynamodb", "Query", None)} <= made[QUERY], made[QUERY]
    assert {("s3", "DeleteObject", None), ("s3", "PutObject", None), ("dynamodb", "GetItem", None)} <= made[DOCUMENTS]
    presigned = [c["params"]["Key"] for c in _calls(run)[DOCUMENTS] if c["presign"]]
    # The first one only names the S3 endpoint for the page's Content-Security-Policy; then a
    # new key of its own for every upload (uploads/<32 hex>/<name>).
    assert presigned[0] == "uploads/probe" and len(presigned) == 2, presigned
    assert re.fullmatch(r"uploads/[0-9a-f]{32}/runbook\.md", presigned[1]), presigned


def test_every_recorded_call_is_allowed_by_the_synthesized_policies(run) -> None:
    deployment = run_deployment(run)
    refused = [problem for name, calls in _calls(run).items()
               for problem in check_calls(deployment, name, calls, run["facts"]).refused]
    assert refused == []


def test_every_granted_action_is_used_by_a_call_or_has_a_reason(run) -> None:
    deployment = run_deployment(run)
    unexplained, stale = [], []
    for name, calls in _calls(run).items():
        report = check_calls(deployment, name, calls, run["facts"])
        unused = report.unused(deployment.identity_policies(name))
        reasoned = {action for (function, action) in REASONS if function in (None, name)}
        unexplained += [f"{name}: {action}" for action in sorted(unused - reasoned)]
        granted = {a for d in deployment.identity_policies(name) for s in d["Statement"]
                   for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
        stale += [f"{name}: {action}" for (function, action) in REASONS if function == name
                  and (action not in granted or action not in unused)]
    assert unexplained == [], "grant used by no call: remove it or give its reason in REASONS"
    assert stale == [], "REASONS names an action that is used or not granted"


def run_deployment(run) -> Deployment:
    return run["deployment"]


# --- the checker itself fails when a needed grant goes ---------------------------------------------


def test_checker_refuses_the_removal_path_without_s3_list_bucket(run) -> None:
    """The issue's case: without s3:ListBucket, S3 answers 403 to the removal's HeadObject."""
    deployment = run_deployment(run)
    role = deployment.role_of(UPLOAD)
    crippled = _deployment(without_action(deployment.template, role, "s3:ListBucket"))
    refused = check_calls(crippled, UPLOAD, _calls(run)[UPLOAD], run["facts"]).refused
    assert refused and all("s3:ListBucket" in r and "s3-404-needs-list-bucket" in r for r in refused), refused
    assert any("HeadObject" in r for r in refused) and any("GetObject" in r for r in refused)


def test_checker_refuses_the_path_when_any_used_grant_is_removed(run) -> None:
    deployment = run_deployment(run)
    calls = _calls(run)
    removed = 0
    for name in HANDLERS:
        report = check_calls(deployment, name, calls[name], run["facts"])
        for action in sorted({a for (_, _, a) in report.used}):
            crippled = _deployment(without_action(deployment.template, deployment.role_of(name), action))
            refused = check_calls(crippled, name, calls[name], run["facts"]).refused
            assert any(action in r for r in refused), f"{name} without {action} still passed"
            removed += 1
    assert removed >= 10


def test_checker_applies_the_kms_rules_for_customer_managed_keys(moto_server) -> None:
    """Real responses from moto: an SSE-KMS object and a SecureString under a customer key;
    the stack grants no kms:Decrypt, so the checker refuses both calls."""
    import boto3
    import botocore.session
    from lambda_driver import record_calls

    recorded: list[dict] = []
    core = botocore.session.Session()
    record_calls(core, recorded.append)
    session = boto3.session.Session(botocore_session=core, region_name=REGION, aws_access_key_id="testing",
                                    aws_secret_access_key="testing")
    kms = session.client("kms", endpoint_url=moto_server)
    key = kms.create_key(Description="customer key")["KeyMetadata"]
    s3 = session.client("s3", endpoint_url=moto_server)
    bucket = f"kms-rule-{key['KeyId'][:8]}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket=bucket, Key="a.txt", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=key["Arn"])
    s3.get_object(Bucket=bucket, Key="a.txt")
    ssm = session.client("ssm", endpoint_url=moto_server)
    ssm.put_parameter(Name="/rag/customer-key-test", Value="v", Type="SecureString", KeyId=key["KeyId"], Overwrite=True)
    ssm.get_parameter(Name="/rag/customer-key-test", WithDecryption=True)

    gets = [c for c in recorded if c["operation"] in ("GetObject", "GetParameter")]
    facts = Facts(parameter_keys={"/rag/customer-key-test": key["KeyId"]})
    wanted = [n for c in gets for n in needs(c, ACCOUNT, REGION, facts) if n.action == "kms:Decrypt"]
    assert [n.why.split("rule ")[1] for n in wanted] == ["sse-kms-needs-decrypt", "securestring-needs-decrypt"]
    assert all(key["KeyId"] in n.resource for n in wanted)
    # With the AWS managed key (the stack's documented setup), no KMS grant is needed.
    assert not [n for n in needs(gets[1], ACCOUNT, REGION, Facts()) if n.action.startswith("kms:")]
    for rule in ("sse-kms-needs-decrypt", "securestring-needs-decrypt", "s3-404-needs-list-bucket"):
        assert rule in AWS_RULES


def test_a_refused_read_is_one_clear_error_naming_the_grant_and_is_not_retried(stage) -> None:
    """A role without s3:GetObject (moto enforces it): the upload function logs one JSON
    error that names the missing permission and finishes the batch instead of raising (Lambda
    would retry it twice and park it in the DLQ, for a refusal that cannot change by itself)."""
    deployment = stage["deployment"]
    crippled = _deployment(without_action(deployment.template, deployment.role_of(UPLOAD), "s3:GetObject"))
    stage["moto"].client("s3").put_object(Bucket=stage["bucket"], Key="denied/readme.md", Body=DOCUMENT)
    upload = stage["start"](UPLOAD, policies=crippled.identity_policies(UPLOAD), role="rag-upload-without-get")
    try:
        created = upload.invoke(s3_event("created", stage["bucket"], "denied/readme.md"))
        removed = upload.invoke(s3_event("removed", stage["bucket"], "denied/readme.md"))
    finally:
        upload.close()
    assert created["result"]["denied"] == ["denied/readme.md"] and created["result"]["indexed"] == 0, created
    assert removed["result"]["denied"] == ["denied/readme.md"] and removed["result"]["deleted"] == [], removed
    errors = [json.loads(line) for line in upload.log_lines() if '"level":"ERROR"' in line.replace(" ", "")]
    assert len(errors) == 2, upload.log_lines()
    for error in errors:
        assert error["missing_permission"] == "s3:GetObject or s3:ListBucket"
        assert error["outcome"] == "denied" and error["key"] == "denied/readme.md" and error["document_id"]
        assert "s3:ListBucket on arn:aws:s3:::" in error["reason"] and error["function_request_id"]
    assert {c["error"] for c in upload.calls() if c["signing_name"] == "s3"} == {"AccessDenied", "403"}


# --- the functions' logs, as CloudWatch Logs holds them ------------------------------------------


def _log_records(run, name: str) -> list[dict]:
    """Each line the function wrote; every one must be a JSON object."""
    records = []
    for line in run["functions"][name].log_lines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            pytest.fail(f"{name} wrote a line that is not JSON: {line!r}")
    return records


def _request(record: dict) -> int:
    return int(record["function_request_id"].rsplit("-", 1)[1])


def test_upload_function_logs_each_document_as_json_with_outcome_reason_request_and_cold_start(run) -> None:
    records = _log_records(run, UPLOAD)
    ingested = [r for r in records if r.get("message", "").startswith("ingested ")]
    outcomes = {r["outcome"]: r for r in ingested}
    assert {"indexed", "failed", "unchanged"} <= set(outcomes), ingested
    assert outcomes["failed"]["reason"] and outcomes["failed"]["document_id"].startswith("doc_")
    assert outcomes["indexed"]["chunks"] >= 1 and outcomes["indexed"]["document_id"].startswith("doc_")
    for record in ingested:
        assert record["service"] == "rag-assistant" and record["level"] == "INFO"
        assert record["function_request_id"].startswith(f"{UPLOAD}-request-")
        assert record["cold_start"] is (_request(record) == 1)
    assert any(r.get("message", "") == "S3 batch processed" and r["deleted"] == ["guides/zero trust.md"] for r in records)


def test_query_function_logs_the_answer_as_json_with_request_and_cold_start(run) -> None:
    records = _log_records(run, QUERY)
    (answered,) = [r for r in records if r.get("message", "") == "question answered"]
    assert answered["answered"] is True and answered["generator"] == "openai" and answered["sources"] >= 1
    assert answered["function_request_id"] == f"{QUERY}-request-1" and answered["cold_start"] is True
    assert answered["correlation_id"]  # API Gateway's request id
    assert "What does zero trust assume" not in json.dumps(records)  # never the question
    assert OPENAI_KEY not in json.dumps(records)


def test_documents_function_logs_deletions_and_refusals_as_json(run) -> None:
    records = _log_records(run, DOCUMENTS)
    (deleting,) = [r for r in records if r.get("message", "") == "document deletion requested"]
    assert deleting["document_id"] == run["document_id"] and deleting["outcome"] == "deleting"
    assert deleting["cold_start"] is False and deleting["function_request_id"].startswith(f"{DOCUMENTS}-request-")
    refused = [r for r in records if r.get("message", "") == "request refused"]
    assert {r["reason"] for r in refused} == {"document_not_found"} and len(refused) == 2


def _as_aws_logs_tail_short(records_lines: list[str], request_ids: list[str]) -> str:
    """What `aws logs tail --format short` prints for a Lambda log group: "%Y-%m-%dT%H:%M:%S
    message" per event (awscli/customizations/logs/tail.py, ShortLogEventsFormatter), the
    function's lines between the runtime's START/END/REPORT lines."""
    out = []
    stamp = "2026-11-28T10:00:00"
    out += [f"{stamp} START RequestId: {r} Version: $LATEST" for r in request_ids[:1]]
    out += [f"{stamp} {line.rstrip()}" for line in records_lines]
    out += [f"{stamp} END RequestId: {request_ids[-1]}",
            f"{stamp} REPORT RequestId: {request_ids[-1]}\tDuration: 812.31 ms\tBilled Duration: 813 ms\t"
            "Memory Size: 1024 MB\tMax Memory Used: 301 MB"]
    return "\n".join(out) + "\n"


def test_the_deployment_guides_jq_examples_parse_real_log_lines(run, tmp_path) -> None:
    """Each `aws logs tail ... | jq` line of docs/DEPLOYMENT_AWS.md, run by the shell on the
    lines our functions really wrote (aws logs tail replaced by what it would print)."""
    guide = (REPO / "docs" / "DEPLOYMENT_AWS.md").read_text()
    commands = re.findall(r"^aws logs tail (/aws/lambda/(rag-[a-z-]+)) (.*?) \| (.*jq .*)$", guide, re.M)
    assert commands, "the guide has no `aws logs tail ... | jq` example"
    for _, function, options, pipeline in commands:
        assert "--format short" in options, "the pipeline expects the short format"
        process = run["functions"][function]
        requests = [f"{function}-request-{i}" for i in range(1, process.invocations + 1)]
        tailed = tmp_path / f"{function}.tail"
        tailed.write_text(_as_aws_logs_tail_short(process.log_lines(), requests))
        result = subprocess.run(["bash", "-o", "pipefail", "-c", f"cat {shlex.quote(str(tailed))} | {pipeline}"],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        rows = [json.loads(line) for line in result.stdout.splitlines()]
        assert rows, f"{pipeline} printed nothing for {function}"
        assert all(isinstance(row, dict) for row in rows), rows
        assert any(None not in row.values() for row in rows), rows  # the fields it names exist
