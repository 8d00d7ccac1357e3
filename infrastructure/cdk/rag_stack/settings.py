"""Every deployment choice of the stack, read from CDK context (`cdk deploy -c key=value`
or cdk.json's "context"), typed and checked in one place. README.md has the table.

`profile=production` changes the defaults of the options that cost money or protect data
(retain the bucket and table, alarms, dashboard, X-Ray, WAF, Lambda Insights); any single key still wins.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from typing import Any

DEFAULT_REGION = "ap-northeast-2"

_PRODUCTION = {
    "bucketVersioning": True,
    "retainData": True,
    "alarms": True,
    "dashboard": True,
    "tracing": True,
    "waf": True,
    "lambdaInsights": True,
}


@dataclass(frozen=True)
class StackSettings:
    region: str = DEFAULT_REGION
    account: str | None = None
    profile: str = "dev"
    # --- what the functions run ---------------------------------------------------------
    llm_provider: str = "openai"
    llm_model: str | None = None
    embedding_model_name: str = "sentence-transformers/all-MiniLM-L6-v2"
    openai_secret_id: str | None = None
    python_version: str = "3.12"
    architecture: str = "x86_64"
    shared_layer: bool = True
    # --- API ----------------------------------------------------------------------------
    # Empty: same origin only (the page the API serves itself); "*" or origins open it.
    cors_allowed_origins: tuple[str, ...] = ()
    # Which routes need the API key (usage plan): writes (upload-url, DELETE), all, or none.
    # The legacy booleans still work: true = all, false = none.
    api_key: str = "writes"
    throttle_rate_limit: float = 100.0
    throttle_burst_limit: int = 200
    documents_cache: bool = False
    documents_cache_ttl_minutes: int = 5
    api_integration_timeout_seconds: int = 29
    query_provisioned_concurrency: int = 0
    # Lambda SnapStart for the query and documents functions (published versions behind the
    # alias `live`): a cold start restores a snapshot taken with the model and corpus loaded.
    snap_start: bool = False
    waf: bool = False
    waf_rate_limit: int = 2000
    #: API Gateway writes access logs only once the account (per region) names a CloudWatch
    #: role; the stack sets it. false: the account already has one (`aws apigateway get-account`).
    api_gateway_cloud_watch_role: bool = True
    # --- data and operations ------------------------------------------------------------
    # Concurrent ingestions at most (each 1 GB): caps cost and the table's write rate under
    # an upload flood. S3's asynchronous invocations wait and retry, for up to 6 hours; 0 = no cap.
    upload_reserved_concurrency: int = 5
    bucket_versioning: bool = False
    retain_data: bool = False
    ingestion_dlq: bool = True
    s3_lifecycle: bool = False
    tracing: bool = False
    alarms: bool = False
    alarm_email: str | None = None
    dashboard: bool = False
    #: CloudWatch Lambda Insights (memory use per invocation): an extension layer and AWS's
    #: CloudWatchLambdaInsightsExecutionRolePolicy on each function's role.
    lambda_insights: bool = False
    vpc: bool = False
    vpc_nat_gateways: int = 1

    def __post_init__(self) -> None:
        problems = []
        if self.profile not in ("dev", "production"):
            problems.append("profile must be dev or production")
        if self.architecture not in ("x86_64", "arm64"):
            problems.append("architecture must be x86_64 or arm64")
        if self.python_version not in ("3.12", "3.13"):
            problems.append("pythonVersion must be 3.12 or 3.13 (Amazon Linux 2023 runtimes)")
        if self.llm_provider not in ("openai", "bedrock", "openai-compatible", "extractive"):
            problems.append("llmProvider must be openai, bedrock, openai-compatible or extractive")
        if not 1 <= self.api_integration_timeout_seconds <= 300:
            problems.append("apiIntegrationTimeoutSeconds must be 1..300 (over 29 needs a quota increase)")
        if self.documents_cache and not 1 <= self.documents_cache_ttl_minutes <= 60:
            problems.append("documentsCacheTtlMinutes must be 1..60")
        if self.query_provisioned_concurrency < 0 or self.vpc_nat_gateways < 0:
            problems.append("queryProvisionedConcurrency and vpcNatGateways cannot be negative")
        if self.snap_start and self.query_provisioned_concurrency > 0:
            problems.append("snapStart and queryProvisionedConcurrency exclude each other "
                            "(Lambda does not restore snapshots into provisioned instances)")
        if self.throttle_rate_limit < 0 or self.throttle_burst_limit < 0:
            problems.append("throttle limits cannot be negative")
        scope = {"true": "all", "false": "none"}.get(str(self.api_key).strip().lower(), str(self.api_key).strip().lower())
        object.__setattr__(self, "api_key", scope)
        if scope not in ("none", "writes", "all"):
            problems.append("apiKey must be writes, all or none")
        if self.upload_reserved_concurrency < 0:
            problems.append("uploadReservedConcurrency cannot be negative")
        if "*" in self.cors_allowed_origins and len(self.cors_allowed_origins) > 1:
            problems.append("corsAllowedOrigins is either * or a list of origins")
        if problems:
            raise ValueError("invalid stack settings: " + "; ".join(problems))

    @property
    def gateway_origin(self) -> str | None:
        """The one Access-Control-Allow-Origin API Gateway's own errors can send: `*` only
        when the API is open to all, the origin when exactly one is allowed, else none."""
        origins = self.cors_allowed_origins
        return origins[0] if len(origins) == 1 else None

    @property
    def throttled(self) -> bool:
        return self.throttle_rate_limit > 0 and self.throttle_burst_limit > 0

    @classmethod
    def from_context(cls, context: dict[str, Any], environ: dict[str, str] | None = None) -> StackSettings:
        """`context`: key -> value as CDK gives it (strings from -c, JSON values from cdk.json)."""
        environ = os.environ if environ is None else environ
        raw = {k: v for k, v in context.items() if v is not None}
        profile = str(raw.get("profile", "dev"))
        values: dict[str, Any] = {"profile": profile}
        if profile == "production":
            values.update({_snake(k): v for k, v in _PRODUCTION.items()})
        for field in fields(cls):
            key = _camel(field.name)
            if key in raw and field.name not in ("region", "account"):
                values[field.name] = _coerce(field.name, field.type, raw[key])
        # Not CDK_DEFAULT_REGION: the CLI fills it with us-east-1 when no profile names a
        # region, which would silently override the spec's default.
        values["region"] = str(raw.get("region") or environ.get("AWS_REGION")
                               or environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION)
        values["account"] = raw.get("account") or environ.get("CDK_DEFAULT_ACCOUNT")
        return cls(**values)

    @classmethod
    def context_keys(cls) -> list[str]:
        return [_camel(f.name) for f in fields(cls)]


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


def _coerce(name: str, annotation: Any, value: Any) -> Any:
    kind = str(annotation)
    try:
        if kind == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(value)
            return text in ("true", "1", "yes")
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
        if kind.startswith("tuple"):
            items = value if isinstance(value, list) else str(value).split(",")
            return tuple(str(i).strip() for i in items if str(i).strip())
        if kind == "str | None":
            return str(value) or None
        return str(value)
    except (TypeError, ValueError):
        raise ValueError(f"context {_camel(name)}={value!r} is not a valid {kind}") from None
