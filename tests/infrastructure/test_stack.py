"""RagServerlessStack as the spec describes it (aws_cdk.assertions on the synthesized
template), each production option on and off, and cdk-nag passing on every variant."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match
from cdk_support import ACCOUNT, REGION, default_stack, synthesize  # noqa: F401 - default_stack is a fixture

FUNCTIONS = {
    "rag-upload-handler": ("rag_assistant.aws.upload_handler.handler", 1024, 900),
    "rag-query-handler": ("rag_assistant.aws.query_handler.handler", 512, 300),
    "rag-documents-handler": ("rag_assistant.aws.documents_handler.handler", 256, 30),
}
SUFFIXES = {".pdf", ".PDF", ".txt", ".TXT", ".md", ".MD", ".markdown", ".MARKDOWN"}
DYNAMODB_WRITES = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem",
                   "dynamodb:ConditionCheckItem"}
WRITE_ROUTES = {("DELETE", "/rag/documents/{document_id}"), ("POST", "/rag/documents/upload-url")}
READ_ROUTES = {("POST", "/rag/query"), ("GET", "/rag/documents"), ("GET", "/rag/documents/{document_id}")}


def resources(template, kind: str) -> dict:
    return template.find_resources(kind)


def functions_by_name(template) -> dict:
    return {r["Properties"]["FunctionName"]: (k, r) for k, r in resources(template, "AWS::Lambda::Function").items()
            if "FunctionName" in r["Properties"]}


def role_actions(template, function_name: str) -> dict[str, list]:
    """action -> resources granted to the function's role (inline policies only)."""
    logical, function = functions_by_name(template)[function_name]
    role = function["Properties"]["Role"]["Fn::GetAtt"][0]
    granted: dict[str, list] = {}
    for policy in resources(template, "AWS::IAM::Policy").values():
        if {"Ref": role} not in policy["Properties"]["Roles"]:
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow"
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            targets = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            for action in actions:
                granted.setdefault(action, []).extend(targets)
    return granted


def api_routes(template) -> set[tuple[str, str]]:
    paths = {}
    api_resources = resources(template, "AWS::ApiGateway::Resource")

    def path_of(logical: str) -> str:
        if logical not in api_resources:
            return ""
        props = api_resources[logical]["Properties"]
        parent = props["ParentId"]
        parent_path = path_of(parent["Ref"]) if "Ref" in parent else ""
        return f"{parent_path}/{props['PathPart']}"

    for logical in api_resources:
        paths[logical] = path_of(logical)
    routes = set()
    for method in resources(template, "AWS::ApiGateway::Method").values():
        props = method["Properties"]
        resource = props["ResourceId"]
        path = paths.get(resource.get("Ref"), "/") if isinstance(resource, dict) and "Ref" in resource else "/"
        routes.add((props["HttpMethod"], path))
    return routes


def methods_by_route(template) -> dict[tuple[str, str], dict]:
    """(method, path) -> the method's properties."""
    api_resources = resources(template, "AWS::ApiGateway::Resource")

    def path_of(resource) -> str:
        if not (isinstance(resource, dict) and "Ref" in resource and resource["Ref"] in api_resources):
            return ""
        props = api_resources[resource["Ref"]]["Properties"]
        return f"{path_of(props['ParentId'])}/{props['PathPart']}"

    return {(m["Properties"]["HttpMethod"], path_of(m["Properties"]["ResourceId"]) or "/"): m["Properties"]
            for m in resources(template, "AWS::ApiGateway::Method").values()}


def gateway_responses(template) -> dict[str, dict]:
    return {r["Properties"]["ResponseType"]: r["Properties"]
            for r in resources(template, "AWS::ApiGateway::GatewayResponse").values()}


# --- the spec's resources -----------------------------------------------------------------


def test_three_functions_with_the_spec_names_sizes_and_timeouts(default_stack) -> None:
    _, template = default_stack
    found = functions_by_name(template)
    for name, (handler, memory, timeout) in FUNCTIONS.items():
        props = found[name][1]["Properties"]
        assert (props["Handler"], props["MemorySize"], props["Timeout"]) == (handler, memory, timeout)
        assert props["Runtime"] == "python3.12" and props["Architectures"] == ["x86_64"]


def test_function_environment_is_the_spec_contract(default_stack) -> None:
    _, template = default_stack
    for name in FUNCTIONS:
        env = functions_by_name(template)[name][1]["Properties"]["Environment"]["Variables"]
        assert env["VECTORSTORE_BACKEND"] == "dynamodb" and env["LOG_LEVEL"] == "INFO"
        assert env["EMBEDDING_MODEL_NAME"] == "sentence-transformers/all-MiniLM-L6-v2"
        assert env["LLM_PROVIDER"] == "openai"
        assert env["BUCKET_NAME"] == {"Ref": template_bucket_id(template)}
        assert env["VECTORSTORE_TABLE_NAME"] == {"Ref": template_table_id(template)}
        assert "AWS_REGION" not in env  # reserved: the runtime sets it
        assert ("RAG_EMBEDDING_MODEL_DIR" in env) == (name != "rag-documents-handler")
    query_env = functions_by_name(template)["rag-query-handler"][1]["Properties"]["Environment"]["Variables"]
    assert query_env["OPENAI_API_KEY_PARAMETER"] == "/rag/openai-api-key"
    assert query_env["LLM_TIMEOUT_SECONDS"] == "12"  # two attempts + retrieval stay inside 29 s
    assert "LLM_MODEL" not in query_env
    assert query_env["RAG_EMBEDDING_MODEL_DIR"] == "/opt/model"


def template_table_id(template) -> str:
    (table_id,) = resources(template, "AWS::DynamoDB::Table")
    return table_id


def template_bucket_id(template) -> str:
    """The documents bucket (the access-log bucket, when there is one, is not it)."""
    (bucket_id,) = [logical for logical, r in resources(template, "AWS::S3::Bucket").items()
                    if "rag-documents-" in json.dumps(r["Properties"].get("BucketName", ""))]
    return bucket_id


def test_table_matches_what_the_runtime_creates(default_stack) -> None:
    from rag_assistant.store.dynamodb_catalog import table_definition

    _, template = default_stack
    expected = table_definition("rag-documents")
    (table,) = resources(template, "AWS::DynamoDB::Table").values()
    props = table["Properties"]
    assert props["TableName"] == "rag-documents" and props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["KeySchema"] == expected["KeySchema"]
    assert sorted(props["AttributeDefinitions"], key=str) == sorted(expected["AttributeDefinitions"], key=str)
    assert props["GlobalSecondaryIndexes"] == expected["GlobalSecondaryIndexes"]
    assert props["SSESpecification"] == {"SSEEnabled": True}
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def test_bucket_is_named_encrypted_private_and_tls_only(default_stack) -> None:
    _, template = default_stack
    template.has_resource_properties("AWS::S3::Bucket", {
        "BucketName": f"rag-documents-{ACCOUNT}-{REGION}",
        "BucketEncryption": {"ServerSideEncryptionConfiguration": [
            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
        "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                           "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
    })
    template.has_resource_properties("AWS::S3::BucketPolicy", {"PolicyDocument": {"Statement": Match.array_with([
        Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})])}})


def test_uploads_and_deletions_of_documents_notify_the_upload_function(default_stack) -> None:
    _, template = default_stack
    (notifications,) = resources(template, "Custom::S3BucketNotifications").values()
    configs = notifications["Properties"]["NotificationConfiguration"]["LambdaFunctionConfigurations"]
    upload_id = functions_by_name(template)["rag-upload-handler"][0]
    pairs = set()
    for config in configs:
        assert config["LambdaFunctionArn"] == {"Fn::GetAtt": [upload_id, "Arn"]}
        (rule,) = config["Filter"]["Key"]["FilterRules"]
        assert rule["Name"] == "suffix"
        pairs |= {(event, rule["Value"]) for event in config["Events"]}
    assert pairs == {(e, s) for e in ("s3:ObjectCreated:*", "s3:ObjectRemoved:*") for s in SUFFIXES}


def test_rest_api_routes_come_from_the_route_table_and_writes_need_the_key(default_stack) -> None:
    from rag_assistant.api.routes import routes_for

    _, template = default_stack
    template.has_resource_properties("AWS::ApiGateway::Stage", {"StageName": "prod"})
    methods = methods_by_route(template)
    # Same origin by default (the API serves the page): no preflight methods at all.
    assert set(methods) == {(r.method, r.path) for r in routes_for("aws")}
    functions = functions_by_name(template)
    for route in routes_for("aws"):
        props = methods[(route.method, route.path)]
        assert props["Integration"]["Type"] == "AWS_PROXY"
        assert props["Integration"]["TimeoutInMillis"] == 29000  # API Gateway's default limit
        serving = "rag-query-handler" if route.function == "query" else "rag-documents-handler"
        assert functions[serving][0] in json.dumps(props["Integration"]["Uri"]), route
    keyed = {route for route, props in methods.items() if props.get("ApiKeyRequired", False)}
    assert keyed == WRITE_ROUTES
    template.resource_count_is("AWS::ApiGateway::ApiKey", 1)
    template.has_resource_properties("AWS::ApiGateway::UsagePlan", {
        "Throttle": {"RateLimit": 100, "BurstLimit": 200},
        "ApiStages": [Match.object_like({"Stage": Match.any_value()})]})
    assert "ApiKeyId" in template.to_json()["Outputs"]
    for name in ("rag-query-handler", "rag-documents-handler"):
        assert functions[name][1]["Properties"]["Environment"]["Variables"]["RAG_AUTH_SCOPE"] == "writes"


def test_gateway_errors_speak_the_contract_and_never_open_cors(default_stack) -> None:
    from rag_assistant.api.routes import GATEWAY_ERRORS

    _, template = default_stack
    responses = gateway_responses(template)
    for name, (status, code, _) in GATEWAY_ERRORS.items():
        assert responses[name]["StatusCode"] == str(status)
        assert json.loads(responses[name]["ResponseTemplates"]["application/json"])["error"]["code"] == code
    generic = responses["DEFAULT_4XX"]["ResponseTemplates"]["application/json"]
    assert '"code": "$context.error.responseType"' in generic and "$context.error.messageString" in generic
    for response in responses.values():
        headers = response["ResponseParameters"]
        assert headers["gatewayresponse.header.X-Content-Type-Options"] == "'nosniff'"
        assert "gatewayresponse.header.Access-Control-Allow-Origin" not in headers  # same origin only


@pytest.mark.parametrize(("origins", "echoed"), [
    ("https://docs.example.com", "'https://docs.example.com'"),
    ("https://a.example,https://b.example", None),
    ("*", "'*'"),
])
def test_gateway_errors_echo_the_one_allowed_origin_never_a_wildcard(origins: str, echoed: str | None) -> None:
    _, template = synthesize(corsAllowedOrigins=origins)
    for response in gateway_responses(template).values():
        assert response["ResponseParameters"].get("gatewayresponse.header.Access-Control-Allow-Origin") == echoed


def test_log_groups_keep_14_days(default_stack) -> None:
    _, template = default_stack
    groups = {r["Properties"]["LogGroupName"]: r["Properties"]["RetentionInDays"]
              for r in resources(template, "AWS::Logs::LogGroup").values()}
    for name in FUNCTIONS:
        assert groups[f"/aws/lambda/{name}"] == 14
    assert set(groups.values()) == {14}
    group_ids = {r["Properties"]["LogGroupName"]: logical
                 for logical, r in resources(template, "AWS::Logs::LogGroup").items()}
    for name, (_, function) in functions_by_name(template).items():
        # Each function logs to its own 14-day group, not to one Lambda would create unbounded.
        assert function["Properties"]["LoggingConfig"]["LogGroup"] == {"Ref": group_ids[f"/aws/lambda/{name}"]}


def test_outputs(default_stack) -> None:
    _, template = default_stack
    outputs = template.to_json()["Outputs"]
    assert {"ApiEndpoint", "DocumentsBucketName", "VectorStoreTableName", "UploadHandlerName",
            "QueryHandlerName", "DocumentsHandlerName"} <= set(outputs)
    assert "prod" in json.dumps(outputs["ApiEndpoint"]["Value"])


# --- least privilege --------------------------------------------------------------------------


def test_documents_function_cannot_write_the_table_and_only_deletes_or_signs_uploads(default_stack) -> None:
    _, template = default_stack
    granted = role_actions(template, "rag-documents-handler")
    assert not DYNAMODB_WRITES & set(granted)
    assert {a for a in granted if a.startswith("s3:")} == {"s3:DeleteObject", "s3:PutObject"}
    assert "/uploads/*" in json.dumps(granted["s3:PutObject"])
    assert not any(a.startswith(("ssm:", "secretsmanager:", "sqs:")) for a in granted)


def test_query_function_reads_the_table_its_key_parameter_and_the_corpus_snapshot_only(default_stack) -> None:
    _, template = default_stack
    granted = role_actions(template, "rag-query-handler")
    assert not DYNAMODB_WRITES & set(granted)
    assert {a for a in granted if a.startswith("s3:")} == {"s3:GetObject"}
    assert json.dumps(granted["s3:GetObject"]).endswith('/rag-index/corpus-snapshot.npz"]]}]')
    assert "dynamodb:Query" in granted and "dynamodb:GetItem" in granted
    assert json.dumps(granted["ssm:GetParameter"]).endswith(':parameter/rag/openai-api-key"]]}]')
    assert not any(a.startswith(("secretsmanager:", "bedrock:")) for a in granted)


def test_upload_function_reads_objects_and_owns_the_table(default_stack) -> None:
    _, template = default_stack
    granted = role_actions(template, "rag-upload-handler")
    assert {a for a in granted if a.startswith("s3:")} == {"s3:GetObject", "s3:ListBucket", "s3:PutObject"}
    # ListBucket on the bucket itself: S3 then answers 404, not 403, for a key that is gone.
    assert granted["s3:ListBucket"] == [{"Fn::GetAtt": [template_bucket_id(template), "Arn"]}]
    # It writes one object: the corpus snapshot, which query instances load when cold.
    assert json.dumps(granted["s3:PutObject"]).endswith('/rag-index/corpus-snapshot.npz"]]}]')
    for name in ("rag-upload-handler", "rag-query-handler"):
        env = functions_by_name(template)[name][1]["Properties"]["Environment"]["Variables"]
        assert env["RAG_CORPUS_SNAPSHOT_KEY"] == "rag-index/corpus-snapshot.npz"
    assert set(granted) >= DYNAMODB_WRITES
    assert not any(a.startswith(("ssm:", "secretsmanager:")) for a in granted)
    assert "sqs:SendMessage" in granted  # its dead-letter queue


def test_function_roles_carry_no_managed_policies_and_log_only_to_their_group(default_stack) -> None:
    _, template = default_stack
    roles = resources(template, "AWS::IAM::Role")
    for name in FUNCTIONS:
        logical, function = functions_by_name(template)[name]
        role = roles[function["Properties"]["Role"]["Fn::GetAtt"][0]]
        assert "ManagedPolicyArns" not in role["Properties"]
        logs_targets = role_actions(template, name)["logs:PutLogEvents"]
        assert len(logs_targets) == 1 and "Logs" in logs_targets[0]["Fn::GetAtt"][0]


# --- production options ------------------------------------------------------------------------


def test_cors_origins_restricted_by_one_setting() -> None:
    _, template = synthesize(corsAllowedOrigins="https://docs.example.com")
    preflights = [m for m in resources(template, "AWS::ApiGateway::Method").values()
                  if m["Properties"]["HttpMethod"] == "OPTIONS"]
    assert preflights
    for method in preflights:
        headers = method["Properties"]["Integration"]["IntegrationResponses"][0]["ResponseParameters"]
        assert headers["method.response.header.Access-Control-Allow-Origin"] == "'https://docs.example.com'"
        assert method["Properties"].get("ApiKeyRequired", False) is False  # preflights never carry a key
    for _, function in functions_by_name(template).values():
        assert function["Properties"]["Environment"]["Variables"]["CORS_ALLOWED_ORIGINS"] == "https://docs.example.com"
    # Presigned PUTs come from the page (this region's API) and from the listed origin.
    template.has_resource_properties("AWS::S3::Bucket", {"CorsConfiguration": {"CorsRules": [
        Match.object_like({"AllowedOrigins": [f"https://*.execute-api.{REGION}.amazonaws.com", "https://docs.example.com"],
                           "AllowedMethods": ["PUT"], "AllowedHeaders": ["Content-Type", "If-None-Match"]})]}})


@pytest.mark.parametrize(("setting", "expected"), [
    ("writes", WRITE_ROUTES),
    ("all", WRITE_ROUTES | READ_ROUTES),
    ("true", WRITE_ROUTES | READ_ROUTES),  # the old boolean: every route
    ("none", set()),
    ("false", set()),
])
def test_api_key_scope_is_a_setting(setting: str, expected: set) -> None:
    stack, template = synthesize(apiKey=setting)
    methods = methods_by_route(template)
    assert {route for route, props in methods.items() if props.get("ApiKeyRequired", False)} == expected
    # The page, its assets and /rag/config stay open: the page asks for the key itself.
    for route in (("GET", "/"), ("GET", "/static/{file}"), ("GET", "/rag/config")):
        assert methods[route].get("ApiKeyRequired", False) is False
    template.resource_count_is("AWS::ApiGateway::ApiKey", int(bool(expected)))
    template.resource_count_is("AWS::ApiGateway::UsagePlan", int(bool(expected)))
    scope = {"true": "all", "false": "none"}.get(setting, setting)
    env = functions_by_name(template)["rag-documents-handler"][1]["Properties"]["Environment"]["Variables"]
    assert stack.settings.api_key == env["RAG_AUTH_SCOPE"] == scope


def test_stage_throttling_defaults_and_off() -> None:
    _, template = synthesize()
    template.has_resource_properties("AWS::ApiGateway::Stage", {"MethodSettings": Match.array_with([
        Match.object_like({"ThrottlingRateLimit": 100, "ThrottlingBurstLimit": 200})])})
    _, template = synthesize(throttleRateLimit="0")
    stage = next(iter(resources(template, "AWS::ApiGateway::Stage").values()))
    assert "Throttling" not in json.dumps(stage["Properties"].get("MethodSettings", []))


@pytest.mark.parametrize("enabled", [True, False])
def test_documents_listing_cache(enabled) -> None:
    _, template = synthesize(documentsCache=str(enabled).lower())
    stage = next(iter(resources(template, "AWS::ApiGateway::Stage").values()))["Properties"]
    assert stage.get("CacheClusterEnabled", False) is enabled
    cached = [s for s in stage.get("MethodSettings", []) if s.get("CachingEnabled")]
    if enabled:
        assert stage["CacheClusterSize"] == "0.5"
        assert [(s["ResourcePath"], s["HttpMethod"], s["CacheTtlInSeconds"])
                for s in cached] == [("/~1rag~1documents", "GET", 300)]
        (listing,) = [m["Properties"] for m in resources(template, "AWS::ApiGateway::Method").values()
                      if m["Properties"]["HttpMethod"] == "GET" and m["Properties"]["Integration"].get("CacheKeyParameters")]
        assert set(listing["Integration"]["CacheKeyParameters"]) == {
            "method.request.querystring.limit", "method.request.querystring.cursor"}
    else:
        assert cached == []


@pytest.mark.parametrize("enabled", [True, False])
def test_ingestion_dead_letter_queue(enabled) -> None:
    _, template = synthesize(ingestionDlq=str(enabled).lower(), alarms="true")
    template.resource_count_is("AWS::SQS::Queue", int(enabled))
    if enabled:
        template.has_resource_properties("AWS::SQS::Queue", {"QueueName": "rag-ingestion-dlq",
                                                             "SqsManagedSseEnabled": True})
        template.has_resource_properties("AWS::Lambda::EventInvokeConfig", {
            "MaximumRetryAttempts": 2,
            "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [Match.string_like_regexp("IngestionDlq"), "Arn"]}}}})
        template.has_resource_properties("AWS::CloudWatch::Alarm", {"AlarmName": "rag-ingestion-dlq-not-empty"})
    else:
        (config,) = resources(template, "AWS::Lambda::EventInvokeConfig").values()
        assert "DestinationConfig" not in config["Properties"]


@pytest.mark.parametrize("enabled", [True, False])
def test_xray_tracing(enabled) -> None:
    _, template = synthesize(tracing=str(enabled).lower())
    for _, function in functions_by_name(template).values():
        mode = function["Properties"].get("TracingConfig", {}).get("Mode")
        assert mode == ("Active" if enabled else None) or (not enabled and mode == "PassThrough")
    stage = next(iter(resources(template, "AWS::ApiGateway::Stage").values()))["Properties"]
    assert stage.get("TracingEnabled", False) is enabled


def test_alarms_cover_error_rate_duration_api_5xx_and_throttles() -> None:
    _, template = synthesize(alarms="true", alarmEmail="ops@example.com")
    alarms = {a["Properties"]["AlarmName"]: a["Properties"] for a in resources(template, "AWS::CloudWatch::Alarm").values()}
    assert set(alarms) == {f"{n}-{k}" for n in FUNCTIONS for k in ("error-rate", "duration")} | {
        "rag-assistant-api-5xx", "rag-documents-throttles", "rag-ingestion-dlq-not-empty",
        "rag-upload-handler-access-denied"}
    assert alarms["rag-upload-handler-access-denied"]["MetricName"] == "AccessDenied"
    for name in FUNCTIONS:
        assert alarms[f"{name}-error-rate"]["Threshold"] == 5
    # 80% of the timeout; behind API Gateway the 29 s integration timeout is the real limit.
    assert alarms["rag-upload-handler-duration"]["Threshold"] == pytest.approx(0.8 * 900_000)
    assert alarms["rag-query-handler-duration"]["Threshold"] == pytest.approx(0.8 * 29_000)
    assert alarms["rag-documents-handler-duration"]["Threshold"] == pytest.approx(0.8 * 29_000)
    assert alarms["rag-assistant-api-5xx"]["MetricName"] == "5XXError"
    assert all(a["AlarmActions"] for a in alarms.values())
    template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()})
    template.has_resource_properties("AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ops@example.com"})
    _cloudwatch_may_publish_for_these_alarms_only(template, alarms)


def _cloudwatch_may_publish_for_these_alarms_only(template, alarms: dict) -> None:
    """The topic policy and the key policy, evaluated as IAM does for CloudWatch acting for
    each alarm of the stack, and for an alarm of another account or of another name."""
    from iam_policy import Deployment, evaluate

    deployment = Deployment(template.to_json(), ACCOUNT, REGION)
    (topic_id,) = resources(template, "AWS::SNS::Topic")
    (topic_policy,) = resources(template, "AWS::SNS::TopicPolicy").values()
    (key_id, key), = resources(template, "AWS::KMS::Key").items()
    topic_arn = deployment.arn(topic_id)
    topic_document = deployment.resolve(topic_policy["Properties"]["PolicyDocument"])
    key_document = deployment.resolve(key["Properties"]["KeyPolicy"])

    def may(alarm_arn: str, account: str = ACCOUNT) -> dict[str, bool]:
        context = {"aws:SourceAccount": account, "aws:SourceArn": alarm_arn, "aws:SecureTransport": "true"}
        return {action: evaluate([], [document], action, resource, context, "cloudwatch.amazonaws.com").allowed
                for action, resource, document in (
                    ("sns:Publish", topic_arn, topic_document),
                    ("kms:GenerateDataKey", deployment.arn(key_id), key_document),
                    ("kms:Decrypt", deployment.arn(key_id), key_document))}

    for name in alarms:
        assert all(may(f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}").values()), name
    assert not any(may(f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:someone-elses").values())
    assert not any(may(f"arn:aws:cloudwatch:{REGION}:999999999999:alarm:rag-x", account="999999999999").values())
    # Without the conditions' keys (a confused deputy), nothing is allowed either.
    assert not evaluate([], [topic_document], "sns:Publish", topic_arn, {}, "cloudwatch.amazonaws.com").allowed


def test_api_gateway_account_logging_role_is_made_before_the_stage_and_kept(default_stack) -> None:
    """Access logs fail in a fresh account/region until the account names a CloudWatch role."""
    _, template = default_stack
    (account_id, account), = resources(template, "AWS::ApiGateway::Account").items()
    role_id = account["Properties"]["CloudWatchRoleArn"]["Fn::GetAtt"][0]
    role = resources(template, "AWS::IAM::Role")[role_id]
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "apigateway.amazonaws.com"}
    assert "AmazonAPIGatewayPushToCloudWatchLogs" in json.dumps(role["Properties"]["ManagedPolicyArns"])
    # One setting per account and region: it outlives the stack (other APIs may rely on it).
    assert account["DeletionPolicy"] == role["DeletionPolicy"] == "Retain"
    (stage,) = resources(template, "AWS::ApiGateway::Stage").values()
    assert account_id in stage["DependsOn"] and "AccessLogSetting" in stage["Properties"]


def test_api_gateway_account_role_can_be_skipped_where_the_account_has_one() -> None:
    _, template = synthesize(apiGatewayCloudWatchRole="false")
    template.resource_count_is("AWS::ApiGateway::Account", 0)
    assert not [r for r in resources(template, "AWS::IAM::Role").values()
                if "apigateway.amazonaws.com" in json.dumps(r["Properties"]["AssumeRolePolicyDocument"])]
    (stage,) = resources(template, "AWS::ApiGateway::Stage").values()
    assert "AccessLogSetting" in stage["Properties"]


def test_no_alarms_dashboard_or_waf_by_default(default_stack) -> None:
    _, template = default_stack
    for _, function in functions_by_name(template).values():
        assert "LambdaInsightsExtension" not in json.dumps(function["Properties"].get("Layers", []))
    for kind in ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::Dashboard", "AWS::SNS::Topic",
                 "AWS::WAFv2::WebACL", "AWS::EC2::VPC", "AWS::Lambda::Alias"):
        template.resource_count_is(kind, 0)


def test_dashboard() -> None:
    _, template = synthesize(dashboard="true")
    template.has_resource_properties("AWS::CloudWatch::Dashboard", {"DashboardName": "rag-assistant"})
    body = json.dumps(next(iter(resources(template, "AWS::CloudWatch::Dashboard").values()))["Properties"]["DashboardBody"])
    for metric in ("Invocations", "Errors", "Duration", "5XXError", "Latency", "ConsumedReadCapacityUnits",
                   "DocumentsIngested"):
        assert metric in body


@pytest.mark.parametrize("enabled", [True, False])
def test_s3_lifecycle(enabled) -> None:
    _, template = synthesize(s3Lifecycle=str(enabled).lower())
    bucket = next(iter(resources(template, "AWS::S3::Bucket").values()))["Properties"]
    (notifications,) = resources(template, "Custom::S3BucketNotifications").values()
    events = {e for c in notifications["Properties"]["NotificationConfiguration"]["LambdaFunctionConfigurations"]
              for e in c["Events"]}
    if enabled:
        (rule,) = bucket["LifecycleConfiguration"]["Rules"]
        assert [(t["StorageClass"], t["TransitionInDays"]) for t in rule["Transitions"]] == [
            ("STANDARD_IA", 30), ("GLACIER", 90)]
        assert rule["ExpirationInDays"] == 365
        assert "s3:LifecycleExpiration:*" in events  # expired files leave the index too
    else:
        assert "LifecycleConfiguration" not in bucket
        assert "s3:LifecycleExpiration:*" not in events


@pytest.mark.parametrize("retain", [True, False])
def test_removal_policy(retain) -> None:
    stack, template = synthesize(retainData=str(retain).lower())
    for kind in ("AWS::S3::Bucket", "AWS::DynamoDB::Table", "AWS::Logs::LogGroup"):
        for resource in resources(template, kind).values():
            assert resource["DeletionPolicy"] == ("Retain" if retain else "Delete")
    template.resource_count_is("Custom::S3AutoDeleteObjects", 0 if retain else 1)


def test_production_profile_retains_data_and_turns_on_operations() -> None:
    stack, template = synthesize(profile="production")
    settings = stack.settings
    assert (settings.retain_data, settings.alarms, settings.dashboard, settings.tracing, settings.waf,
            settings.lambda_insights) == (True,) * 6
    # Lambda Insights: the extension layer and AWS's policy for it on every function.
    roles = resources(template, "AWS::IAM::Role")
    for name in FUNCTIONS:
        function = functions_by_name(template)[name][1]["Properties"]
        assert any("LambdaInsightsExtension" in json.dumps(layer) for layer in function["Layers"]), name
        role = roles[function["Role"]["Fn::GetAtt"][0]]["Properties"]
        assert "CloudWatchLambdaInsightsExecutionRolePolicy" in json.dumps(role["ManagedPolicyArns"])
    assert next(iter(resources(template, "AWS::DynamoDB::Table").values()))["DeletionPolicy"] == "Retain"
    template.resource_count_is("AWS::WAFv2::WebACL", 1)
    # A single key still wins over the profile.
    stack, _ = synthesize(profile="production", waf="false")
    assert stack.settings.waf is False


@pytest.mark.parametrize("count", [2, 0])
def test_provisioned_concurrency_for_the_query_function(count) -> None:
    _, template = synthesize(queryProvisionedConcurrency=str(count))
    template.resource_count_is("AWS::Lambda::Alias", 1 if count else 0)
    query_id = functions_by_name(template)["rag-query-handler"][0]
    (query_method,) = [m["Properties"] for m in resources(template, "AWS::ApiGateway::Method").values()
                       if m["Properties"]["HttpMethod"] == "POST" and query_id in json.dumps(m)
                       or ("QueryLive" in json.dumps(m) and m["Properties"]["HttpMethod"] == "POST")]
    if count:
        template.has_resource_properties("AWS::Lambda::Alias", {
            "Name": "live", "ProvisionedConcurrencyConfig": {"ProvisionedConcurrentExecutions": count}})
        assert "QueryLive" in json.dumps(query_method["Integration"]["Uri"])
    else:
        assert query_id in json.dumps(query_method["Integration"]["Uri"])


@pytest.mark.parametrize("enabled", [True, False])
def test_snap_start_for_the_functions_people_wait_for(enabled) -> None:
    _, template = synthesize(snapStart=str(enabled).lower())
    found = functions_by_name(template)
    for name in FUNCTIONS:
        snap = found[name][1]["Properties"].get("SnapStart")
        wanted = enabled and name != "rag-upload-handler"  # S3 events wait for no one
        assert snap == ({"ApplyOn": "PublishedVersions"} if wanted else None), name
    # SnapStart restores published versions only: the API calls the alias `live` of each.
    template.resource_count_is("AWS::Lambda::Alias", 2 if enabled else 0)
    methods = [json.dumps(m["Properties"]["Integration"]["Uri"])
               for m in resources(template, "AWS::ApiGateway::Method").values()
               if m["Properties"]["HttpMethod"] != "OPTIONS"]
    assert methods and all(("Live" in uri) == enabled for uri in methods)


def test_snap_start_and_provisioned_concurrency_exclude_each_other() -> None:
    from rag_stack.settings import StackSettings

    with pytest.raises(ValueError, match="snapStart and queryProvisionedConcurrency"):
        StackSettings.from_context({"snapStart": "true", "queryProvisionedConcurrency": "2"}, environ={})


@pytest.mark.parametrize("enabled", [True, False])
def test_waf_web_acl_on_the_stage(enabled) -> None:
    _, template = synthesize(waf=str(enabled).lower())
    template.resource_count_is("AWS::WAFv2::WebACL", int(enabled))
    template.resource_count_is("AWS::WAFv2::WebACLAssociation", int(enabled))
    if enabled:
        (acl,) = resources(template, "AWS::WAFv2::WebACL").values()
        rules = {r["Name"]: r for r in acl["Properties"]["Rules"]}
        assert acl["Properties"]["Scope"] == "REGIONAL"
        assert rules["aws-common-rules"]["Statement"]["ManagedRuleGroupStatement"]["Name"] == "AWSManagedRulesCommonRuleSet"
        assert rules["rate-limit-per-ip"]["Statement"]["RateBasedStatement"] == {"Limit": 2000, "AggregateKeyType": "IP"}
        assert "Block" in rules["rate-limit-per-ip"]["Action"]


@pytest.mark.parametrize("nat", [1, 0])
def test_functions_in_a_vpc_with_gateway_endpoints(nat) -> None:
    _, template = synthesize(vpc="true", vpcNatGateways=str(nat))
    template.resource_count_is("AWS::EC2::VPC", 1)
    template.resource_count_is("AWS::EC2::NatGateway", nat)
    gateways = [e["Properties"] for e in resources(template, "AWS::EC2::VPCEndpoint").values()
                if e["Properties"].get("VpcEndpointType", "Gateway") == "Gateway"]
    names = json.dumps([g["ServiceName"] for g in gateways])
    assert len(gateways) == 2 and ".s3" in names and ".dynamodb" in names
    interfaces = [e for e in resources(template, "AWS::EC2::VPCEndpoint").values()
                  if e["Properties"].get("VpcEndpointType") == "Interface"]
    assert len(interfaces) == (0 if nat else 1)  # SSM for the key, when there is no NAT
    for _, function in functions_by_name(template).values():
        assert function["Properties"]["VpcConfig"]["SubnetIds"]
    _, off = synthesize()
    for _, function in functions_by_name(off).values():
        assert "VpcConfig" not in function["Properties"]


@pytest.mark.parametrize("shared", [True, False])
def test_shared_dependency_layer(shared) -> None:
    _, template = synthesize(sharedLayer=str(shared).lower())
    template.resource_count_is("AWS::Lambda::LayerVersion", 2 if shared else 0)
    found = functions_by_name(template)
    layers = {name: len(found[name][1]["Properties"].get("Layers", [])) for name in FUNCTIONS}
    if shared:
        assert layers == {"rag-upload-handler": 2, "rag-query-handler": 2, "rag-documents-handler": 1}
        assert found["rag-query-handler"][1]["Properties"]["Environment"]["Variables"]["RAG_EMBEDDING_MODEL_DIR"] == "/opt/model"
    else:
        assert set(layers.values()) == {0}
        assert found["rag-query-handler"][1]["Properties"]["Environment"]["Variables"]["RAG_EMBEDDING_MODEL_DIR"] == "/var/task/model"


def test_integration_timeout_can_be_raised() -> None:
    _, template = synthesize(apiIntegrationTimeoutSeconds="120")
    timeouts = {m["Properties"]["Integration"].get("TimeoutInMillis")
                for m in resources(template, "AWS::ApiGateway::Method").values()
                if m["Properties"]["HttpMethod"] != "OPTIONS"}
    assert timeouts == {120_000}


def test_bedrock_provider_and_secrets_manager_grant_only_what_they_name() -> None:
    _, template = synthesize(llmProvider="bedrock", openaiSecretId="rag/openai")
    granted = role_actions(template, "rag-query-handler")
    # The default model through this region's inference profile, and nothing else.
    profile = json.dumps(granted["bedrock:InvokeModel"])
    assert f':bedrock:{REGION}:' in profile and "inference-profile/apac.amazon.nova-lite-v1:0" in profile
    assert "foundation-model/amazon.nova-lite-v1:0" in profile and "foundation-model/*" not in profile
    assert "inference-profile/*" not in profile
    assert json.dumps(granted["secretsmanager:GetSecretValue"]).endswith(':secret:rag/openai-??????"]]}]')
    env = functions_by_name(template)["rag-query-handler"][1]["Properties"]["Environment"]["Variables"]
    assert env["LLM_PROVIDER"] == "bedrock" and env["OPENAI_API_KEY_SECRET_ID"] == "rag/openai"
    assert env["LLM_MODEL"] == "apac.amazon.nova-lite-v1:0"  # named, so the role and the runtime agree
    _, template = synthesize(llmModel="gpt-4.1-mini", apiIntegrationTimeoutSeconds="60")
    env = functions_by_name(template)["rag-query-handler"][1]["Properties"]["Environment"]["Variables"]
    assert env["LLM_MODEL"] == "gpt-4.1-mini" and env["LLM_TIMEOUT_SECONDS"] == "27"


def bedrock_statements(template) -> list[dict]:
    logical = functions_by_name(template)["rag-query-handler"][1]["Properties"]["Role"]["Fn::GetAtt"][0]
    return [statement for policy in resources(template, "AWS::IAM::Policy").values()
            if {"Ref": logical} in policy["Properties"]["Roles"]
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
            if "bedrock:InvokeModel" in json.dumps(statement["Action"])]


def test_bedrock_grants_follow_the_configured_profile_and_region() -> None:
    _, template = synthesize(llmProvider="bedrock", llmModel="eu.anthropic.claude-3-haiku-20240307-v1:0",
                             region="eu-central-1")
    profile, models = bedrock_statements(template)
    assert json.dumps(profile["Resource"]).endswith(
        ':bedrock:eu-central-1:123456789012:inference-profile/eu.anthropic.claude-3-haiku-20240307-v1:0"]]}')
    # The model behind it, in any region the profile routes to, but only through the profile.
    assert json.dumps(models["Resource"]).endswith(':bedrock:*::foundation-model/anthropic.claude-3-haiku-20240307-v1:0"]]}')
    assert "inference-profile/eu.anthropic" in json.dumps(models["Condition"]["StringEquals"]["bedrock:InferenceProfileArn"])

    _, template = synthesize(llmProvider="bedrock", llmModel="amazon.nova-pro-v1:0", region="us-west-2")
    (single,) = bedrock_statements(template)
    assert json.dumps(single["Resource"]).endswith(':bedrock:us-west-2::foundation-model/amazon.nova-pro-v1:0"]]}')
    assert "Condition" not in single
    _, template = synthesize()  # openai: no Bedrock at all
    assert bedrock_statements(template) == []


@pytest.mark.parametrize("region", ["ap-northeast-2", "us-east-1", "eu-west-1", "ca-central-1", "sa-east-1"])
def test_the_stack_and_the_runtime_default_to_the_same_bedrock_model(region: str) -> None:
    from rag_assistant.bootstrap import default_bedrock_model
    from rag_stack.functions import bedrock_chat_model
    from rag_stack.settings import StackSettings

    settings = StackSettings.from_context({"llmProvider": "bedrock", "region": region}, environ={})
    assert bedrock_chat_model(settings) == default_bedrock_model(region)


@pytest.mark.parametrize(("context", "expected"), [({}, 5), ({"uploadReservedConcurrency": "20"}, 20),
                                                   ({"uploadReservedConcurrency": "0"}, None)])
def test_upload_function_concurrency_is_capped(context: dict, expected: int | None) -> None:
    _, template = synthesize(**context)
    found = functions_by_name(template)
    assert found["rag-upload-handler"][1]["Properties"].get("ReservedConcurrentExecutions") == expected
    for name in ("rag-query-handler", "rag-documents-handler"):
        assert "ReservedConcurrentExecutions" not in found[name][1]["Properties"]


@pytest.mark.parametrize(("context", "versioned"), [({}, False), ({"profile": "production"}, True),
                                                    ({"bucketVersioning": "true"}, True),
                                                    ({"profile": "production", "bucketVersioning": "false"}, False)])
def test_bucket_versioning_is_a_setting_on_in_production(context: dict, versioned: bool) -> None:
    _, template = synthesize(**context)
    bucket = resources(template, "AWS::S3::Bucket")[template_bucket_id(template)]["Properties"]
    assert bucket.get("VersioningConfiguration") == ({"Status": "Enabled"} if versioned else None)
    rules = {r["Id"]: r for r in bucket.get("LifecycleConfiguration", {}).get("Rules", [])}
    if versioned:  # old versions do not pile up for ever
        assert rules["expire-old-versions"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}
    else:
        assert "expire-old-versions" not in rules


def test_arm64_and_python_313_options() -> None:
    _, template = synthesize(architecture="arm64", pythonVersion="3.13")
    for _, function in functions_by_name(template).values():
        assert function["Properties"]["Architectures"] == ["arm64"]
        assert function["Properties"]["Runtime"] == "python3.13"


# --- settings and checks ----------------------------------------------------------------------


def test_region_defaults_to_seoul_and_follows_the_environment(monkeypatch) -> None:
    from rag_stack.settings import StackSettings

    assert StackSettings.from_context({}, environ={"CDK_DEFAULT_REGION": "us-east-1"}).region == "ap-northeast-2"
    assert StackSettings.from_context({}, environ={"AWS_REGION": "eu-west-1"}).region == "eu-west-1"
    assert StackSettings.from_context({"region": "us-west-2"}, environ={"AWS_REGION": "eu-west-1"}).region == "us-west-2"


@pytest.mark.parametrize("context, message", [
    ({"apiKey": "maybe"}, "apiKey"),
    ({"architecture": "sparc"}, "architecture"),
    ({"apiIntegrationTimeoutSeconds": "0"}, "apiIntegrationTimeoutSeconds"),
    ({"llmProvider": "gpt"}, "llmProvider"),
])
def test_invalid_settings_are_refused_with_the_key_named(context, message) -> None:
    from rag_stack.settings import StackSettings

    with pytest.raises(ValueError, match=message):
        StackSettings.from_context(context, environ={})


def test_cdk_nag_fails_the_synth_on_an_unacknowledged_finding() -> None:
    import aws_cdk as cdk
    from app import build_app
    from aws_cdk import aws_iam as iam
    from cdk_support import ACCOUNT as account

    app = cdk.App(context={"account": account, "aws:cdk:bundling-stacks": []})
    stack = build_app(app)
    stack.functions.functions["query"].add_to_role_policy(iam.PolicyStatement(actions=["s3:*"], resources=["*"]))
    with pytest.raises(Exception, match="AwsSolutions-IAM5"):
        app.synth()


def test_every_option_at_once_passes_cdk_nag() -> None:
    stack, template = synthesize(
        profile="production", apiKey="true", documentsCache="true", vpc="true", vpcNatGateways="0",
        llmProvider="bedrock", openaiSecretId="rag/openai", queryProvisionedConcurrency="1",
        s3Lifecycle="true", alarmEmail="ops@example.com", sharedLayer="false", corsAllowedOrigins="https://a.example")
    assert stack.settings.waf and stack.settings.alarms
    template.resource_count_is("AWS::WAFv2::WebACL", 1)
    template.resource_count_is("AWS::EC2::VPCEndpoint", 5)  # S3, DynamoDB, SSM, Secrets Manager, Bedrock


def test_hosted_embedding_models_get_exactly_their_permissions() -> None:
    _, template = synthesize(embeddingModelName="bedrock/amazon.titan-embed-text-v2:0")
    for name in ("rag-upload-handler", "rag-query-handler"):
        granted = role_actions(template, name)
        assert json.dumps(granted["bedrock:InvokeModel"]).endswith(
            'foundation-model/amazon.titan-embed-text-v2:0"]]}]'), granted["bedrock:InvokeModel"]
        env = functions_by_name(template)[name][1]["Properties"]["Environment"]["Variables"]
        assert env["EMBEDDING_MODEL_NAME"] == "bedrock/amazon.titan-embed-text-v2:0"
    assert "bedrock:InvokeModel" not in role_actions(template, "rag-documents-handler")
    assert "ssm:GetParameter" not in role_actions(template, "rag-upload-handler")

    _, template = synthesize(embeddingModelName="openai/text-embedding-3-small", openaiSecretId="rag/openai")
    upload = role_actions(template, "rag-upload-handler")
    assert "ssm:GetParameter" in upload and "secretsmanager:GetSecretValue" in upload
    env = functions_by_name(template)["rag-upload-handler"][1]["Properties"]["Environment"]["Variables"]
    assert env["OPENAI_API_KEY_PARAMETER"] == "/rag/openai-api-key" and env["OPENAI_API_KEY_SECRET_ID"] == "rag/openai"
