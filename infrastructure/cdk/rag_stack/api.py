"""The REST API (stage `prod`): routes, CORS, throttling, API key, caching, WAF.

The routes and who may call them come from the project's own table
(src/rag_assistant/api/routes.py, standard library only), the one the local server checks
its token against: a write route needs the API key unless apiKey=none, a read route when
apiKey=all, the page and /rag/config never.
"""

from __future__ import annotations

import json
import sys

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from . import packaging
from .functions import RagFunctions
from .settings import StackSettings

if str(packaging.SOURCE_PACKAGE.parent) not in sys.path:  # the CDK app may run outside the project's venv
    sys.path.insert(0, str(packaging.SOURCE_PACKAGE.parent))
from rag_assistant.api.routes import CORS_ALLOWED_HEADERS, GATEWAY_ERRORS, routes_for

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
            # Preflights only when other origins may call: the page is served by the API itself.
            default_cors_preflight_options=apigw.CorsOptions(
                allow_origins=list(settings.cors_allowed_origins),
                allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
                allow_headers=list(CORS_ALLOWED_HEADERS),
                max_age=Duration.days(1)) if settings.cors_allowed_origins else None,
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
        self._gateway_responses(settings)

        integrations = {
            "query": apigw.LambdaIntegration(functions.query_target, timeout=timeout),
            "documents": apigw.LambdaIntegration(functions.documents_target, timeout=timeout),
        }
        listing = apigw.LambdaIntegration(functions.documents_target, timeout=timeout,
                                          cache_key_parameters=list(DOCUMENTS_CACHE_KEYS))
        self.key_routes: list[tuple[str, str]] = []
        for route in routes_for("aws"):
            resource = self.api.root
            for part in route.path.strip("/").split("/"):
                if part:
                    resource = resource.get_resource(part) or resource.add_resource(part)
            needs_key = route.needs_key(settings.api_key)
            if needs_key:
                self.key_routes.append((route.method, route.path))
            cached = (route.method, route.path) == ("GET", "/rag/documents")
            resource.add_method(
                route.method, listing if cached else integrations[route.function or "documents"],
                api_key_required=needs_key,
                request_parameters={name: False for name in DOCUMENTS_CACHE_KEYS} if cached else None)

        # A key and a usage plan whenever any route needs one: the key's value is in the
        # console or `aws apigateway get-api-key --include-value` (output ApiKeyId).
        self.api_key: apigw.IApiKey | None = None
        if self.key_routes:
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


    def _gateway_responses(self, settings: StackSettings) -> None:
        """API Gateway's own errors in the contract's JSON shape and headers. Their one
        Access-Control-Allow-Origin is a static value: `*` only for an API open to all, the
        origin when exactly one is allowed, and none when several are (or none)."""
        headers = {name: f"'{value}'" for name, value in GATEWAY_SECURITY_HEADERS.items()}
        origin = settings.gateway_origin
        if origin:
            headers["Access-Control-Allow-Origin"] = f"'{origin}'"
        generic = json.dumps({"error": {"code": "$context.error.responseType", "message": "MESSAGE"}})
        generic = generic.replace('"MESSAGE"', "$context.error.messageString")
        for response_type in (apigw.ResponseType.DEFAULT_4_XX, apigw.ResponseType.DEFAULT_5_XX):
            self.api.add_gateway_response(
                f"Json{response_type.response_type}", type=response_type, response_headers=headers,
                templates={"application/json": generic})
        for name, (status, code, message) in GATEWAY_ERRORS.items():
            self.api.add_gateway_response(
                f"Json{name}", type=apigw.ResponseType.of(name), status_code=str(status),
                response_headers=headers,
                templates={"application/json": json.dumps({"error": {"code": code, "message": message}})})


#: The contract's headers on API Gateway's own answers (api/contract.py PageSecurity).
#: (No CSP: a static header value cannot hold its quotes, and a JSON error runs nothing.)
GATEWAY_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def _web_acl(scope: Construct, settings: StackSettings) -> wafv2.CfnWebACL:
    def visibility(name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
        return wafv2.CfnWebACL.VisibilityConfigProperty(
            cloud_watch_metrics_enabled=True, metric_name=name, sampled_requests_enabled=True)

    def managed_rules(name: str, priority: int, group: str) -> wafv2.CfnWebACL.RuleProperty:
        """One of AWS's managed rule groups, enforcing its own actions."""
        return wafv2.CfnWebACL.RuleProperty(
            name=name, priority=priority,
            override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
            statement=wafv2.CfnWebACL.StatementProperty(
                managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                    vendor_name="AWS", name=group)),
            visibility_config=visibility(name))

    return wafv2.CfnWebACL(
        scope, "WebAcl",
        name="rag-assistant-api",
        scope="REGIONAL",
        default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
        visibility_config=visibility("rag-assistant-api"),
        rules=[
            managed_rules("aws-common-rules", 0, "AWSManagedRulesCommonRuleSet"),
            # Known bad inputs (Log4Shell and kin): cheap, and checkov's CKV_AWS_192 asks for it.
            managed_rules("aws-known-bad-inputs", 2, "AWSManagedRulesKnownBadInputsRuleSet"),
            wafv2.CfnWebACL.RuleProperty(
                name="rate-limit-per-ip", priority=1,
                action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                statement=wafv2.CfnWebACL.StatementProperty(
                    rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                        limit=settings.waf_rate_limit, aggregate_key_type="IP")),
                visibility_config=visibility("rate-limit-per-ip")),
        ],
    )
