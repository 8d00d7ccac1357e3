"""Checkov's findings on the synthesized template that we accept, each with its reason, as
cdk-nag's are acknowledged in nag.py. Checkov reads them from the resource's own metadata
(`Metadata: checkov: skip: [{id, comment}]`), so a finding is accepted on one resource only,
and only while the setting that makes it true holds: a new resource, or a setting turned
on that removes the reason, fails tests/infrastructure/test_checkov.py again.
"""

from __future__ import annotations

from aws_cdk import CfnResource
from constructs import IConstruct


def skip(scope: IConstruct, check_id: str, reason: str) -> None:
    resource = scope if isinstance(scope, CfnResource) else scope.node.default_child
    assert isinstance(resource, CfnResource), scope
    current = resource.get_metadata("checkov") or {"skip": []}
    current["skip"].append({"id": check_id, "comment": reason})
    resource.add_metadata("checkov", current)


def acknowledge_checkov_findings(stack) -> None:  # stack: RagServerlessStack
    settings = stack.settings
    storage, functions, api = stack.storage, stack.functions, stack.api

    skip(storage.bucket, "CKV_AWS_18", "Server access logs need a second bucket per deployment; uploads are "
         "recorded by the upload function's logs, and CloudTrail S3 data events cover audits (cdk-nag S1).")
    if not settings.bucket_versioning:
        skip(storage.bucket, "CKV_AWS_21", "Versioning is a setting (bucketVersioning, on with profile=production); "
             "a development stack deletes its bucket with the stack.")
    skip(storage.table, "CKV_AWS_119", "Encrypted at rest with the AWS managed key; a customer key adds a "
         "monthly fee and a key policy to run, for no control the deployment uses.")
    if functions.dead_letter_queue is not None:
        skip(functions.dead_letter_queue, "CKV_AWS_27", "Encrypted at rest with SQS managed keys (SSE-SQS) and "
             "TLS enforced by its policy.")

    for construct in stack.node.find_all():  # the functions', the API's access logs, VPC flow logs
        if isinstance(construct, CfnResource) and construct.cfn_resource_type == "AWS::Logs::LogGroup":
            skip(construct, "CKV_AWS_158", "CloudWatch Logs encrypts every log group at rest; a KMS key per "
                 "group adds cost and a key policy. The logs hold no questions, keys or document text.")

    for key, function in functions.functions.items():
        skip(function, "CKV_AWS_173", "The environment holds names and settings only: the OpenAI key is read "
             "from SSM / Secrets Manager at run time, never put in the environment.")
        if not settings.vpc:
            skip(function, "CKV_AWS_117", "A VPC is a setting (vpc=true); the functions call only AWS APIs "
                 "(S3, DynamoDB, SSM) and, when configured, the LLM's HTTPS endpoint.")
        if key == "upload":
            skip(function, "CKV_AWS_116", "Failed S3 events go to the SQS dead-letter queue through the "
                 "function's on-failure destination (ingestionDlq), which checkov does not read.")
            if not settings.upload_reserved_concurrency:
                skip(function, "CKV_AWS_115", "uploadReservedConcurrency=0 was chosen: no cap on ingestion.")
        else:
            skip(function, "CKV_AWS_116", "Invoked synchronously by API Gateway: a failure is the caller's "
                 "answer; there is no event to keep for a retry.")
            skip(function, "CKV_AWS_115", "Behind the API stage's throttling (and the usage plan's): reserving "
                 "concurrency for an API function would take it from the account's shared pool.")

    # Functions CDK adds for us: the custom resources that set the bucket's notifications and
    # empty it on `cdk destroy`. They run once per deployment, from CloudFormation.
    ours = {f.node.default_child for f in functions.functions.values()}
    for construct in stack.node.find_all():
        if (isinstance(construct, CfnResource) and construct.cfn_resource_type == "AWS::Lambda::Function"
                and construct not in ours):
            for check_id in ("CKV_AWS_115", "CKV_AWS_116", "CKV_AWS_117"):
                skip(construct, check_id, "CDK's own deployment-time handler (bucket notifications / auto-delete), "
                     "invoked by CloudFormation only.")

    stage = api.api.deployment_stage
    if not settings.tracing:
        skip(stage, "CKV_AWS_73", "X-Ray is a setting (tracing=true, on with profile=production).")
    if not settings.documents_cache:
        skip(stage, "CKV_AWS_120", "The cache is a setting (documentsCache=true): it costs per hour, and only "
             "the document listing may be cached (answers depend on the question body).")
    for method in api.api.methods:
        cfn = method.node.default_child
        if method.http_method == "OPTIONS" or cfn.api_key_required:  # type: ignore[union-attr]
            continue
        skip(method, "CKV_AWS_59", "Open on purpose: the page, its files and /rag/config let a browser find out "
             "that a key is needed; questions and listings are open unless apiKey=all. Writes need the API key "
             "(docs/DEPLOYMENT_AWS.md, security model).")
