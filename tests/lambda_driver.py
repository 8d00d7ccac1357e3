"""One Lambda execution environment, as tests/lambda_harness.py starts it:

    python -S tests/lambda_driver.py PATHS_JSON HANDLER_MODULE CALLS_FILE RESULTS_FD

With -S the process sees no site-packages: only the built assets and the runtime's boto3
(PATHS_JSON). It imports only the function's handler module, then serves invocations as a
warm Lambda does: one JSON line {"event", "request_id"} on stdin, one result line on the
RESULTS_FD pipe. stdout stays what Lambda sends to CloudWatch Logs: the function's log lines.

Every AWS API call the function makes (botocore's before-parameter-build and after-call
events, in every botocore session, including the ones Powertools opens) and every presigned
request it signs is appended to CALLS_FILE as one JSON line: service, operation, the
parameters that name resources, the outcome and the response fields the IAM rules read.
"""

from __future__ import annotations

import json
import os
import sys

#: Parameters kept in a record: the ones that name a resource or change what IAM checks.
_KEPT = {"Bucket", "Key", "VersionId", "ServerSideEncryption", "SSEKMSKeyId", "TableName", "IndexName", "Name",
         "Names", "WithDecryption", "SecretId", "modelId", "QueueUrl", "TopicArn", "KeyId"}
_RESPONSE = ("ServerSideEncryption", "SSEKMSKeyId", "ARN")


def _params(params: dict) -> dict:
    kept = {k: v for k, v in params.items() if k in _KEPT}
    if "RequestItems" in params:
        kept["RequestItems"] = sorted(params["RequestItems"])
    if "TransactItems" in params:
        kept["TransactItems"] = [(kind, body["TableName"]) for item in params["TransactItems"]
                                 for kind, body in item.items()]
    return kept


def record_calls(session, write) -> None:
    """Record every API call made through one botocore session: write(dict)."""

    def before(params, model, context, **_):
        context["recorded_params"] = _params(params)
        if context.get("is_presign_request"):
            write(_record(model, context, presign=True))

    def after(http_response, parsed, model, context, **_):
        record = _record(model, context, presign=False)
        record["status"] = http_response.status_code
        record["error"] = parsed.get("Error", {}).get("Code") if http_response.status_code >= 300 else None
        source = parsed.get("Parameter", parsed)  # GetParameter nests its ARN
        record["response"] = {k: source[k] for k in _RESPONSE if isinstance(source, dict) and k in source}
        write(record)

    session.register("before-parameter-build", before)
    session.register("after-call", after)


def install_recorder(write) -> None:
    """Record the calls of every botocore session created from now on (the handler's own and
    the ones Powertools opens)."""
    import botocore.session

    original = botocore.session.Session.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        record_calls(self, write)

    botocore.session.Session.__init__ = init


def _record(model, context, *, presign: bool) -> dict:
    service = model.service_model
    return {"service": service.service_name, "signing_name": service.signing_name, "operation": model.name,
            "params": context.get("recorded_params", {}), "presign": presign,
            "region": context.get("client_region") or os.environ.get("AWS_REGION")}


class Context:
    """The Lambda context attributes the handlers and Powertools read."""

    def __init__(self, request_id: str, function_name: str) -> None:
        self.aws_request_id = request_id
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 1024
        self.invoked_function_arn = f"arn:aws:lambda:{os.environ.get('AWS_REGION')}:123456789012:function:{function_name}"
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "2026/11/28/[$LATEST]0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 600_000


def main() -> None:
    paths, module, calls_file, results_fd = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
    sys.path[:0] = paths
    calls = open(calls_file, "a", encoding="utf-8")  # noqa: SIM115 - open for the process's life

    def write(record: dict) -> None:
        calls.write(json.dumps(record, default=str) + "\n")
        calls.flush()

    install_recorder(write)
    import importlib

    handler = importlib.import_module(module).handler
    results = os.fdopen(results_fd, "w", encoding="utf-8")
    function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "function")
    for line in sys.stdin:
        request = json.loads(line)
        try:
            reply = {"result": handler(request["event"], Context(request["request_id"], function_name))}
        except Exception as exc:  # what the Lambda runtime reports as the invocation's error
            reply = {"error": type(exc).__name__, "message": str(exc)}
        sys.stdout.flush()
        results.write(json.dumps(reply, default=str) + "\n")
        results.flush()


if __name__ == "__main__":
    main()
