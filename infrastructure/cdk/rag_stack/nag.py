"""cdk-nag (AwsSolutions pack) on the app; every acknowledged finding says why it is accepted.

Findings are acknowledged on the narrowest construct, and wildcard (IAM5) findings one
resource pattern at a time, so a new wildcard anywhere still fails the synth.
"""

from __future__ import annotations

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

from .functions import INFERENCE_PROFILE_PREFIXES, bedrock_chat_model

PACK = "AwsSolutions::AwsSolutions-"


def check_with_cdk_nag(app: cdk.App) -> None:
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    cdk.Validations.of(scope).acknowledge(cdk.Acknowledgment(id=PACK + rule, reason=reason))


def acknowledge_stack_findings(stack) -> None:  # stack: RagServerlessStack
    settings = stack.settings
    bucket, table = stack.storage.bucket, stack.storage.table
    bucket_id = stack.get_logical_id(bucket.node.default_child)
    table_id = stack.get_logical_id(table.node.default_child)
    functions = stack.functions.functions

    acknowledge(bucket, "S1", "Server access logs need a second bucket per deployment; uploads are "
                "recorded by the upload function's logs, and CloudTrail S3 data events cover audits.")
    if stack.functions.dead_letter_queue is not None:
        acknowledge(stack.functions.dead_letter_queue, "SQS3", "This queue is the ingestion dead-letter queue.")
    for function in functions.values():
        acknowledge(function, "L1", "The asset's compiled wheels match the runtime's ABI: "
                    f"python{settings.python_version} is the runtime built and tested (pythonVersion=3.13 "
                    "selects the newer one).")
    index_wildcard = f"IAM5[Resource::<{table_id}.Arn>/index/*]"
    for key in ("upload", "query", "documents"):
        acknowledge(functions[key].role, index_wildcard,
                    "The table's one GSI (document-id-index) lists documents; CDK grants its index ARNs.")
    objects = f"IAM5[Resource::<{bucket_id}.Arn>/*]"
    acknowledge(functions["upload"].role, objects,
                "The upload function reads whichever object S3 notified it about: any key in this bucket.")
    acknowledge(functions["documents"].role, objects,
                "DELETE /rag/documents/{id} removes that document's object, wherever it was uploaded.")
    acknowledge(functions["documents"].role, f"IAM5[Resource::<{bucket_id}.Arn>/uploads/*]",
                "Presigned uploads go under uploads/ with a key the server picks.")
    partition, region, account = (_literal(stack, v, p) for v, p in (
        (stack.partition, "AWS::Partition"), (stack.region, "AWS::Region"), (stack.account, "AWS::AccountId")))
    if settings.llm_provider == "bedrock":
        model = bedrock_chat_model(settings)
        if "." in model and model.split(".", 1)[0] in INFERENCE_PROFILE_PREFIXES:
            acknowledge(functions["query"].role,
                        f"IAM5[Resource::arn:{partition}:bedrock:*::foundation-model/{model.split('.', 1)[1]}]",
                        "One model, in whichever region its cross-region inference profile routes a request "
                        "to, and only through that profile (condition bedrock:InferenceProfileArn).")
    if settings.openai_secret_id:
        readers = ["query"] + (["upload"] if settings.embedding_model_name.startswith("openai/") else [])
        for key in readers:
            acknowledge(functions[key].role, f"IAM5[Resource::arn:{partition}:secretsmanager:{region}:"
                        f"{account}:secret:{settings.openai_secret_id}-??????]",
                        "Secrets Manager appends six random characters to a secret's ARN.")
    if settings.tracing:
        for function in functions.values():
            acknowledge(function.role, "IAM5[Resource::*]", "X-Ray's PutTraceSegments has no resource-level permissions.")
    if settings.vpc:
        for function in functions.values():
            acknowledge(function.role, "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                        "AWSLambdaVPCAccessExecutionRole]", "The AWS policy for Lambda's network interfaces in a VPC.")

    if stack.network is not None:
        for endpoint in stack.network.interface_endpoints:
            for group in endpoint.connections.security_groups:
                acknowledge(group, "EC23", "Interface endpoint: HTTPS from inside the VPC's own CIDR only.")

    api = stack.api.api
    acknowledge(api, "APIG2", "The functions validate every body and parameter and answer with the "
                "product's JSON errors (tests/test_aws_handlers.py); gateway validation would answer differently.")
    acknowledge(api.deployment_stage, "APIG6", "Access logs are on (14 days); execution logs would log "
                "request bodies (questions).")
    cloud_watch_role = api.node.try_find_child("CloudWatchRole")
    if cloud_watch_role is not None:
        acknowledge(cloud_watch_role, "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                    "AmazonAPIGatewayPushToCloudWatchLogs]", "API Gateway's account-wide logging role "
                    "(one per account and region): AWS's policy for it, as the API Gateway guide sets it up.")
    if settings.lambda_insights:
        for function in functions.values():
            acknowledge(function.role, "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
                        "CloudWatchLambdaInsightsExecutionRolePolicy]",
                        "The Lambda Insights extension writes its metrics with AWS's policy for it.")
    if not settings.waf:
        acknowledge(api.deployment_stage, "APIG3", "WAF is a setting (waf=true, on with profile=production): "
                    "it costs a monthly fee per web ACL and rule.")
    for method in api.methods:
        keyed = method.node.default_child.api_key_required  # type: ignore[union-attr]
        why = ("Writes (upload-url, DELETE) need the API key and its usage plan by default, reads too with "
               "apiKey=all; the page and /rag/config stay open so the page can ask for the key. "
               "A user directory (Cognito/IAM) belongs to the team's own front end (docs/DEPLOYMENT_AWS.md).")
        acknowledge(method, "APIG4", why if not keyed else "This route needs the API key (usage plan); " + why)
        acknowledge(method, "COG4", "See APIG4: authorization is an API key, not a user pool.")

    # Constructs CDK adds for us: the handler that sets the bucket's notifications.
    notifications = stack.node.try_find_child("BucketNotificationsHandler050a0587b7544547bf325f094a3db834")
    if notifications is not None:
        acknowledge(notifications, "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                    "AWSLambdaBasicExecutionRole]", "CDK's own handler that configures S3 notifications.")


def _literal(stack: cdk.Stack, value: str, pseudo: str) -> str:
    """How cdk-nag prints a value in a finding id: the literal, or <AWS::...> for a token."""
    return f"<{pseudo}>" if cdk.Token.is_unresolved(value) else value
