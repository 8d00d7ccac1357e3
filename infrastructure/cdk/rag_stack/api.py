"""The REST API (stage `prod`): routes, CORS, throttling, API key, caching, WAF."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from .functions import RagFunctions
from .settings import StackSettings

STAGE = "prod"
DOCUMENTS_CACHE_KEYS = ("method.request.querystring.limit", "method.request.querystring.cursor")


class RagApi(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, settings: StackSettings,
                 functions: RagFunctions) -> None:
        super().__init__(scope, construct_id)
        removal = RemovalPolicy.RETAIN if settings.retain_data else RemovalPolicy.DESTROY
        self.access_logs = logs.LogGroup(
            self, "AccessLogs", log_group_name="/aws/apigateway/rag-assistant-api",
            retention=logs.RetentionDays.TWO_WEEKS, removal_policy=removal)
        method_options = {}
        if settings.documents_cache:
            method_options["/rag/documents/GET"] = apigw.MethodDeploymentOptions(
                caching_enabled=True, cache_ttl=Duration.minutes(settings.documents_cache_ttl_minutes))
        self.api = apigw.RestApi(
            self, "Api",
            rest_api_name="rag-assistant-api",
            description="Serverless RAG Assistant: /rag/query, /rag/documents",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            # Access logs need the account's API Gateway CloudWatch role (one per account and
            # region, so it outlives the stack); apiGatewayCloudWatchRole=false: already set.
            cloud_watch_role=settings.api_gateway_cloud_watch_role,
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN if settings.api_gateway_cloud_watch_role else None,
            default_cors_preflight_options=apigw.CorsOptions(
                allow_origins=list(settings.cors_allowed_origins),
                allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
                allow_headers=["Content-Type", "Authorization", "X-Api-Key"],
                max_age=Duration.days(1)),
            deploy_options=apigw.StageOptions(
                stage_name=STAGE,
                tracing_enabled=settings.tracing,
                throttling_rate_limit=settings.throttle_rate_limit if settings.throttled else None,
                throttling_burst_limit=settings.throttle_burst_limit if settings.throttled else None,
                cache_cluster_enabled=settings.documents_cache or None,
                cache_cluster_size="0.5" if settings.documents_cache else None,
                method_options=method_options or None,
                access_log_destination=apigw.LogGroupLogDestination(self.access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=False, http_method=True, ip=True, protocol=True, request_time=True,
                    resource_path=True, response_length=True, status=True, user=False),
            ),
        )
        timeout = Duration.seconds(settings.api_integration_timeout_seconds)
        key = settings.api_key
        # Lambda proxy errors become our JSON errors; API Gateway's own 4XX/5XX get CORS too.
        for response_type in (apigw.ResponseType.DEFAULT_4_XX, apigw.ResponseType.DEFAULT_5_XX):
            self.api.add_gateway_response(
                f"Cors{response_type.response_type}", type=response_type,
                response_headers={"Access-Control-Allow-Origin": _quoted_origin(settings)})

        rag = self.api.root.add_resource("rag")
        query_integration = apigw.LambdaIntegration(functions.query_target, timeout=timeout)
        documents_integration = apigw.LambdaIntegration(functions.functions["documents"], timeout=timeout)
        rag.add_resource("query").add_method("POST", query_integration, api_key_required=key)
        rag.add_resource("config").add_method("GET", documents_integration, api_key_required=key)
        documents = rag.add_resource("documents")
        documents.add_method(
            "GET",
            apigw.LambdaIntegration(functions.functions["documents"], timeout=timeout,
                                    cache_key_parameters=list(DOCUMENTS_CACHE_KEYS)),
            api_key_required=key,
            request_parameters={name: False for name in DOCUMENTS_CACHE_KEYS})
        documents.add_resource("upload-url").add_method("POST", documents_integration, api_key_required=key)
        one = documents.add_resource("{document_id}")
        one.add_method("GET", documents_integration, api_key_required=key)
        one.add_method("DELETE", documents_integration, api_key_required=key)

        self.api_key: apigw.IApiKey | None = None
        if key:
            self.api_key = self.api.add_api_key("ApiKey", api_key_name="rag-assistant-key")
            plan = self.api.add_usage_plan(
                "UsagePlan", name="rag-assistant",
                throttle=apigw.ThrottleSettings(rate_limit=settings.throttle_rate_limit,
                                                burst_limit=settings.throttle_burst_limit)
                if settings.throttled else None)
            plan.add_api_stage(stage=self.api.deployment_stage)
            plan.add_api_key(self.api_key)

        self.web_acl: wafv2.CfnWebACL | None = None
        if settings.waf:
            self.web_acl = _web_acl(self, settings)
            wafv2.CfnWebACLAssociation(self, "WebAclAssociation",
                                       resource_arn=self.api.deployment_stage.stage_arn,
                                       web_acl_arn=self.web_acl.attr_arn)


def _quoted_origin(settings: StackSettings) -> str:
    origins = settings.cors_allowed_origins
    # Gateway responses take one static value; with several origins the Lambda answers CORS.
    return f"'{origins[0] if len(origins) == 1 else '*'}'"


def _web_acl(scope: Construct, settings: StackSettings) -> wafv2.CfnWebACL:
    def visibility(name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
        return wafv2.CfnWebACL.VisibilityConfigProperty(
            cloud_watch_metrics_enabled=True, metric_name=name, sampled_requests_enabled=True)

    return wafv2.CfnWebACL(
        scope, "WebAcl",
        name="rag-assistant-api",
        scope="REGIONAL",
        default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
        visibility_config=visibility("rag-assistant-api"),
        rules=[
            wafv2.CfnWebACL.RuleProperty(
                name="aws-common-rules", priority=0,
                override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                statement=wafv2.CfnWebACL.StatementProperty(
                    managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                        vendor_name="AWS", name="AWSManagedRulesCommonRuleSet")),
                visibility_config=visibility("aws-common-rules")),
            wafv2.CfnWebACL.RuleProperty(
                name="rate-limit-per-ip", priority=1,
                action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                statement=wafv2.CfnWebACL.StatementProperty(
                    rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                        limit=settings.waf_rate_limit, aggregate_key_type="IP")),
                visibility_config=visibility("rate-limit-per-ip")),
        ],
    )
