"""The three Lambda functions, their code and layers, log groups and least-privilege roles."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jsii
from aws_cdk import ArnFormat, AssetHashType, BundlingOptions, Duration, ILocalBundling, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from . import packaging
from .settings import StackSettings
from .storage import DocumentStorage

OPENAI_KEY_PARAMETER = "/rag/openai-api-key"
#: The corpus snapshot in the documents bucket (store/dynamodb_store.py): the upload
#: function writes it after each commit, the query function loads it on a cold start.
CORPUS_SNAPSHOT_KEY = "rag-index/corpus-snapshot.npz"
#: The functions SnapStart applies to: the ones people wait for.
SNAP_START_FUNCTIONS = ("query", "documents")
UPLOAD_PREFIX = "uploads/"  # where presigned uploads go (aws/documents_handler.py)
#: S3 suffix filters are case-sensitive: both spellings of each supported extension.
DOCUMENT_SUFFIXES = tuple(s for ext in (".pdf", ".txt", ".md", ".markdown") for s in (ext, ext.upper()))
#: The table operations the store makes (store/dynamodb_*.py), no more: the IAM test
#: (tests/infrastructure/test_iam_calls.py) proves each one used and each call allowed.
TABLE_READS = ("dynamodb:GetItem", "dynamodb:Query")
#: ConditionCheckItem: a new version commits in a transaction that checks the document's
#: lease (a delete meanwhile wins; store/dynamodb_store.py).
TABLE_WRITES = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem",
                "dynamodb:ConditionCheckItem")
#: The Lambda Insights extension; CDK picks its layer ARN for the region and architecture.
LAMBDA_INSIGHTS = lambda_.LambdaInsightsVersion.VERSION_1_0_498_0


@dataclass(frozen=True)
class FunctionSpec:
    key: str
    name: str
    handler: str
    memory_mb: int
    timeout: Duration
    needs_model: bool
    description: str


SPECS = (
    FunctionSpec("upload", "rag-upload-handler", "rag_assistant.aws.upload_handler.handler", 1024,
                 Duration.minutes(15), True, "S3 notifications: parse, chunk, embed and index documents"),
    FunctionSpec("query", "rag-query-handler", "rag_assistant.aws.query_handler.handler", 512,
                 Duration.minutes(5), True, "POST /rag/query: grounded answers with sources"),
    FunctionSpec("documents", "rag-documents-handler", "rag_assistant.aws.documents_handler.handler", 256,
                 Duration.seconds(30), False, "GET /rag/documents and the document routes"),
)


@jsii.implements(ILocalBundling)
class LocalBundler:
    """Builds a bundle on this machine (rag_stack/packaging.py): no Docker needed."""

    def __init__(self, pieces: tuple[str, ...], target: packaging.Target, layer: bool) -> None:
        self._pieces, self._target, self._layer = pieces, target, layer

    def try_bundle(self, output_dir: str, options: BundlingOptions) -> bool:
        packaging.build_bundle(Path(output_dir), self._pieces, self._target, layer=self._layer)
        return True


def bundled_code(pieces: tuple[str, ...], target: packaging.Target, runtime: lambda_.Runtime, *, layer: bool) -> lambda_.Code:
    return lambda_.Code.from_asset(
        str(packaging.SOURCE_PACKAGE.parent),
        asset_hash=packaging.input_hash(target, pieces) + ("-layer" if layer else ""),
        asset_hash_type=AssetHashType.CUSTOM,
        # The image is only a fallback label: the local bundler always succeeds or raises.
        bundling=BundlingOptions(image=runtime.bundling_image, local=LocalBundler(pieces, target, layer)),
    )


class RagFunctions(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, settings: StackSettings,
                 storage: DocumentStorage, vpc: ec2.IVpc | None = None) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.settings = settings
        runtime = lambda_.Runtime.PYTHON_3_13 if settings.python_version == "3.13" else lambda_.Runtime.PYTHON_3_12
        architecture = lambda_.Architecture.ARM_64 if settings.architecture == "arm64" else lambda_.Architecture.X86_64
        target = packaging.Target(settings.python_version, settings.architecture)
        removal = RemovalPolicy.RETAIN if settings.retain_data else RemovalPolicy.DESTROY

        # --- code and layers ---------------------------------------------------------------
        self.layers: list[lambda_.LayerVersion] = []
        if settings.shared_layer:
            kinds = packaging.bundle_kinds(True)
            code = bundled_code(kinds["code"], target, runtime, layer=False)
            common = lambda_.LayerVersion(
                self, "CommonDeps", code=bundled_code(kinds["common"], target, runtime, layer=True),
                compatible_runtimes=[runtime], compatible_architectures=[architecture],
                description="rag-assistant: pydantic, pydantic-settings, Powertools",
                removal_policy=RemovalPolicy.RETAIN if settings.retain_data else RemovalPolicy.DESTROY)
            ml = lambda_.LayerVersion(
                self, "EmbeddingDeps", code=bundled_code(kinds["ml"], target, runtime, layer=True),
                compatible_runtimes=[runtime], compatible_architectures=[architecture],
                description="rag-assistant: onnxruntime, tokenizers, numpy, parsers, int8 MiniLM in /opt/model",
                removal_policy=RemovalPolicy.RETAIN if settings.retain_data else RemovalPolicy.DESTROY)
            self.layers = [common, ml]
            codes = {True: code, False: code}
            layers_for = {True: [common, ml], False: [common]}
            model_dir = packaging.MODEL_DIR_IN_LAYER
        else:
            kinds = packaging.bundle_kinds(False)
            codes = {True: bundled_code(kinds["full"], target, runtime, layer=False),
                     False: bundled_code(kinds["documents"], target, runtime, layer=False)}
            layers_for = {True: [], False: []}
            model_dir = packaging.MODEL_DIR_IN_CODE

        # --- failed ingestion ----------------------------------------------------------------
        self.dead_letter_queue: sqs.Queue | None = None
        if settings.ingestion_dlq:
            self.dead_letter_queue = sqs.Queue(
                self, "IngestionDlq", queue_name="rag-ingestion-dlq",
                retention_period=Duration.days(14), encryption=sqs.QueueEncryption.SQS_MANAGED,
                enforce_ssl=True, removal_policy=removal)

        common_env = {
            "BUCKET_NAME": storage.bucket.bucket_name,
            "VECTORSTORE_TABLE_NAME": storage.table.table_name,
            "VECTORSTORE_BACKEND": "dynamodb",
            "LOG_LEVEL": "INFO",
            "EMBEDDING_MODEL_NAME": settings.embedding_model_name,
            "LLM_PROVIDER": settings.llm_provider,
            "CORS_ALLOWED_ORIGINS": ",".join(settings.cors_allowed_origins),
            # What /rag/config tells the page about the API key (API Gateway enforces it).
            "RAG_AUTH_SCOPE": settings.api_key,
            "POWERTOOLS_SERVICE_NAME": "rag-assistant",
            "POWERTOOLS_METRICS_NAMESPACE": "RagAssistant",
            "RAG_CACHE_DIR": "/tmp/rag-assistant",
        }

        self.functions: dict[str, lambda_.Function] = {}
        self.log_groups: dict[str, logs.LogGroup] = {}
        self.specs = {spec.key: spec for spec in SPECS}
        for spec in SPECS:
            log_group = logs.LogGroup(
                self, f"{spec.key.capitalize()}Logs", log_group_name=f"/aws/lambda/{spec.name}",
                retention=logs.RetentionDays.TWO_WEEKS, removal_policy=removal)
            # Our own role: logs go only to this function's log group (no AWS managed policy).
            role = iam.Role(self, f"{spec.key.capitalize()}Role",
                            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                            description=f"{spec.name}: least privilege")
            log_group.grant_write(role)
            if vpc is not None:
                role.add_managed_policy(iam.ManagedPolicy.from_aws_managed_policy_name(
                    "service-role/AWSLambdaVPCAccessExecutionRole"))
            environment = dict(common_env)
            if spec.needs_model:
                environment["RAG_EMBEDDING_MODEL_DIR"] = model_dir
                environment["RAG_CORPUS_SNAPSHOT_KEY"] = CORPUS_SNAPSHOT_KEY
            if spec.key == "query" or (spec.key == "upload" and settings.embedding_model_name.startswith("openai/")):
                environment["OPENAI_API_KEY_PARAMETER"] = OPENAI_KEY_PARAMETER
                if settings.openai_secret_id:
                    environment["OPENAI_API_KEY_SECRET_ID"] = settings.openai_secret_id
            if spec.key == "query":
                # One attempt and one retry must fit API Gateway's wait, with retrieval and a cold start.
                environment["LLM_TIMEOUT_SECONDS"] = str(llm_timeout_seconds(settings.api_integration_timeout_seconds))
                model = bedrock_chat_model(settings) if settings.llm_provider == "bedrock" else settings.llm_model
                if model:
                    # Bedrock: always named, so the function invokes exactly what its role may.
                    environment["LLM_MODEL"] = model
            upload = spec.key == "upload"
            function = lambda_.Function(
                self, f"{spec.key.capitalize()}Function",
                function_name=spec.name, description=spec.description,
                runtime=runtime, architecture=architecture, handler=spec.handler,
                code=codes[spec.needs_model], layers=layers_for[spec.needs_model],
                memory_size=spec.memory_mb, timeout=spec.timeout,
                environment=environment, role=role, log_group=log_group,
                tracing=lambda_.Tracing.ACTIVE if settings.tracing else lambda_.Tracing.DISABLED,
                insights_version=LAMBDA_INSIGHTS if settings.lambda_insights else None,
                vpc=vpc,
                vpc_subnets=ec2.SubnetSelection(subnets=vpc.private_subnets or vpc.isolated_subnets) if vpc else None,
                # S3 invokes asynchronously: two retries, then the event goes to the DLQ.
                retry_attempts=2 if upload else None,
                max_event_age=Duration.hours(6) if upload else None,
                on_failure=(destinations.SqsDestination(self.dead_letter_queue)
                            if upload and self.dead_letter_queue else None),
                reserved_concurrent_executions=(settings.upload_reserved_concurrency or None) if upload else None,
                snap_start=(lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS
                            if settings.snap_start and spec.key in SNAP_START_FUNCTIONS else None),
            )
            self.functions[spec.key] = function
            self.log_groups[spec.key] = log_group

        self._grant(stack, storage)
        self._subscribe(storage.bucket)

        # Provisioned concurrency keeps query instances warm (model loaded), SnapStart restores
        # snapshots of published versions: either way the API calls the alias `live`.
        self.query_target: lambda_.IFunction = self.functions["query"]
        self.documents_target: lambda_.IFunction = self.functions["documents"]
        if settings.query_provisioned_concurrency > 0 or settings.snap_start:
            self.query_target = lambda_.Alias(
                self, "QueryLive", alias_name="live", version=self.functions["query"].current_version,
                provisioned_concurrent_executions=settings.query_provisioned_concurrency or None)
        if settings.snap_start:
            self.documents_target = lambda_.Alias(
                self, "DocumentsLive", alias_name="live", version=self.functions["documents"].current_version)

    # --- permissions -------------------------------------------------------------------------

    def _grant(self, stack: Stack, storage: DocumentStorage) -> None:
        upload, query, documents = (self.functions[k] for k in ("upload", "query", "documents"))
        bucket, table = storage.bucket, storage.table
        # Upload: reads the objects S3 tells it about, owns the table, writes the corpus
        # snapshot. ListBucket: for a key that is gone, S3 answers 404 only to a reader that
        # may list the bucket (403 otherwise), and a removal is confirmed by that 404
        # (aws/s3_events.py).
        upload.add_to_role_policy(iam.PolicyStatement(
            actions=["s3:GetObject"], resources=[bucket.arn_for_objects("*")]))
        upload.add_to_role_policy(iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket.bucket_arn]))
        upload.add_to_role_policy(iam.PolicyStatement(
            actions=["s3:PutObject"], resources=[bucket.arn_for_objects(CORPUS_SNAPSHOT_KEY)]))
        table.grant(upload, *TABLE_READS, *TABLE_WRITES)
        # Query: reads the table, its LLM key and the corpus snapshot (no other S3 object).
        table.grant(query, *TABLE_READS)
        query.add_to_role_policy(iam.PolicyStatement(
            actions=["s3:GetObject"], resources=[bucket.arn_for_objects(CORPUS_SNAPSHOT_KEY)]))
        embedding = self.settings.embedding_model_name
        key_readers = [query] + ([upload] if embedding.startswith("openai/") else [])
        for function in key_readers:
            function.add_to_role_policy(iam.PolicyStatement(
                actions=["ssm:GetParameter"],
                resources=[stack.format_arn(service="ssm", resource="parameter",
                                            resource_name=OPENAI_KEY_PARAMETER.lstrip("/"))]))
            if self.settings.openai_secret_id:
                function.add_to_role_policy(iam.PolicyStatement(
                    actions=["secretsmanager:GetSecretValue"],
                    resources=[stack.format_arn(service="secretsmanager", resource="secret",
                                                resource_name=f"{self.settings.openai_secret_id}-??????",
                                                arn_format=ArnFormat.COLON_RESOURCE_NAME)]))
        if embedding.startswith("bedrock/"):
            # A hosted embedding model: both functions that embed may invoke exactly that model.
            model_arn = f"arn:{stack.partition}:bedrock:{stack.region}::foundation-model/{embedding.split('/', 1)[1]}"
            for function in (upload, query):
                function.add_to_role_policy(iam.PolicyStatement(actions=["bedrock:InvokeModel"],
                                                                resources=[model_arn]))
        if self.settings.llm_provider == "bedrock":
            for statement in bedrock_chat_grants(stack, self.settings):
                query.add_to_role_policy(statement)
        # Documents: reads the table; deletes objects (the upload function then drops the
        # chunks) and signs PUTs into uploads/ only. It never writes the table.
        table.grant(documents, *TABLE_READS)
        documents.add_to_role_policy(iam.PolicyStatement(
            actions=["s3:DeleteObject"], resources=[bucket.arn_for_objects("*")]))
        documents.add_to_role_policy(iam.PolicyStatement(
            actions=["s3:PutObject"], resources=[bucket.arn_for_objects(f"{UPLOAD_PREFIX}*")]))

    def _subscribe(self, bucket: s3.Bucket) -> None:
        target = s3n.LambdaDestination(self.functions["upload"])
        events = [s3.EventType.OBJECT_CREATED, s3.EventType.OBJECT_REMOVED]
        if self.settings.s3_lifecycle:
            events.append(s3.EventType.LIFECYCLE_EXPIRATION)
        for event in events:
            for suffix in DOCUMENT_SUFFIXES:
                bucket.add_event_notification(event, target, s3.NotificationKeyFilter(suffix=suffix))


#: The geography prefixes of Bedrock's cross-region inference profiles (apac.amazon.nova-lite-v1:0).
INFERENCE_PROFILE_PREFIXES = ("us", "us-gov", "eu", "apac", "jp", "au", "ca", "global")
BEDROCK_INVOKE = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]


def bedrock_chat_model(settings: StackSettings) -> str:
    """llmModel, else the query function's own default (bootstrap.default_bedrock_model; a
    test keeps the two equal): Amazon Nova Lite through the region's geography profile."""
    if settings.llm_model:
        return settings.llm_model
    geography = {"us": "us", "ca": "us", "eu": "eu", "ap": "apac"}.get(settings.region[:2], "us")
    return f"{geography}.amazon.nova-lite-v1:0"


def bedrock_chat_grants(stack: Stack, settings: StackSettings) -> list[iam.PolicyStatement]:
    """Exactly the configured model: a foundation model in the stack's region, or an inference
    profile of the stack's region plus the foundation model it routes to — in whichever region
    the profile sends a request, and only through that profile."""
    model = bedrock_chat_model(settings)
    geography, _, base_model = model.partition(".")
    if geography not in INFERENCE_PROFILE_PREFIXES or not base_model:
        return [iam.PolicyStatement(actions=BEDROCK_INVOKE, resources=[
            f"arn:{stack.partition}:bedrock:{stack.region}::foundation-model/{model}"])]
    profile = stack.format_arn(service="bedrock", resource="inference-profile", resource_name=model)
    return [
        iam.PolicyStatement(actions=BEDROCK_INVOKE, resources=[profile]),
        iam.PolicyStatement(actions=BEDROCK_INVOKE,
                            resources=[f"arn:{stack.partition}:bedrock:*::foundation-model/{base_model}"],
                            conditions={"StringEquals": {"bedrock:InferenceProfileArn": profile}}),
    ]


def llm_timeout_seconds(integration_timeout_seconds: int) -> int:
    """Per LLM attempt: (API Gateway's wait - 5 s for retrieval and a cold start) / 2 attempts."""
    return max(3, (integration_timeout_seconds - 5) // 2)
