"""The documents bucket and the `rag-documents` table."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_s3 as s3
from constructs import Construct

from .settings import StackSettings

TABLE_NAME = "rag-documents"
GSI_NAME = "document-id-index"
#: The sparse GSI keys the store writes on document items only (store/dynamodb_catalog.py).
GSI_PARTITION_KEY = "entity"
GSI_SORT_KEY = "listed_at"
#: Ingestion leases carry an epoch-seconds expiry; TTL sweeps the ones a crash left behind.
TTL_ATTRIBUTE = "expires_at"


class DocumentStorage(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, settings: StackSettings,
                 account: str, region: str) -> None:
        super().__init__(scope, construct_id)
        removal = RemovalPolicy.RETAIN if settings.retain_data else RemovalPolicy.DESTROY

        lifecycle = []
        if settings.s3_lifecycle:
            lifecycle.append(s3.LifecycleRule(
                id="archive-then-expire",
                transitions=[
                    s3.Transition(storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                                  transition_after=Duration.days(30)),
                    s3.Transition(storage_class=s3.StorageClass.GLACIER,
                                  transition_after=Duration.days(90)),
                ],
                expiration=Duration.days(365),
                abort_incomplete_multipart_upload_after=Duration.days(7),
            ))
        if settings.bucket_versioning:
            # Deleted and replaced files stay recoverable for 30 days, then go for good.
            lifecycle.append(s3.LifecycleRule(
                id="expire-old-versions", noncurrent_version_expiration=Duration.days(30),
                expired_object_delete_marker=True))
        self.bucket = s3.Bucket(
            self, "Bucket",
            bucket_name=f"rag-documents-{account}-{region}",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=settings.bucket_versioning,
            # Browsers PUT files straight to S3 with the presigned URLs of /rag/documents/upload-url.
            cors=[s3.CorsRule(allowed_methods=[s3.HttpMethods.PUT],
                              allowed_origins=upload_origins(settings, region),
                              allowed_headers=["Content-Type", "If-None-Match"], max_age=3000)],
            lifecycle_rules=lifecycle or None,
            removal_policy=removal,
            auto_delete_objects=not settings.retain_data,
        )

        self.table = dynamodb.Table(
            self, "Table",
            table_name=TABLE_NAME,
            partition_key=dynamodb.Attribute(name="document_id", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="chunk_id", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True),
            time_to_live_attribute=TTL_ATTRIBUTE,
            removal_policy=removal,
        )
        self.table.add_global_secondary_index(
            index_name=GSI_NAME,
            partition_key=dynamodb.Attribute(name=GSI_PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=GSI_SORT_KEY, type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.ALL,
        )


def upload_origins(settings: StackSettings, region: str) -> list[str]:
    """Who may PUT to presigned URLs from a browser: the page, served by this region's API
    (its id is not known before deployment, so any execute-api host of the region; the
    presigned signature, not CORS, is what authorizes a PUT), and the configured origins."""
    if "*" in settings.cors_allowed_origins:
        return ["*"]
    return [f"https://*.execute-api.{region}.amazonaws.com", *settings.cors_allowed_origins]
