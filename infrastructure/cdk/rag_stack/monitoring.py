"""CloudWatch alarms (with an SNS topic) and the dashboard."""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from .functions import RagFunctions
from .settings import StackSettings
from .storage import DocumentStorage

PERIOD = Duration.minutes(5)
ERROR_RATE_PERCENT = 5
DURATION_FRACTION = 0.8
#: Every alarm's name starts so: the topic and its key let CloudWatch act for these alarms only.
ALARM_NAME_PREFIX = "rag-"
#: Powertools' metrics (aws/observability.py): namespace and the default "service" dimension.
NAMESPACE = "RagAssistant"
SERVICE = "rag-assistant"


class Monitoring(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, settings: StackSettings,
                 functions: RagFunctions, storage: DocumentStorage, api: apigw.RestApi) -> None:
        super().__init__(scope, construct_id)
        self.alarms: list[cw.Alarm] = []
        self.topic: sns.Topic | None = None
        if settings.alarms:
            self._alarms(settings, functions, storage, api)
        if settings.dashboard:
            self._dashboard(functions, storage, api)

    def _alarms(self, settings: StackSettings, functions: RagFunctions, storage: DocumentStorage,
                api: apigw.RestApi) -> None:
        # CloudWatch publishes to an encrypted topic only if both the topic policy and the
        # key policy let it. enforce_ssl writes a topic policy that replaces SNS's default,
        # so the Allow must be ours. Both are scoped to this account's alarms named ALARM_NAME_PREFIX*
        # (aws:SourceAccount/aws:SourceArn: CloudWatch acting for anyone else's alarm is refused).
        stack = Stack.of(self)
        cloudwatch = iam.ServicePrincipal("cloudwatch.amazonaws.com")
        for_our_alarms = {
            "StringEquals": {"aws:SourceAccount": stack.account},
            "ArnLike": {"aws:SourceArn": stack.format_arn(
                service="cloudwatch", resource="alarm", resource_name=f"{ALARM_NAME_PREFIX}*",
                arn_format=ArnFormat.COLON_RESOURCE_NAME)},
        }
        key = kms.Key(self, "AlarmTopicKey", enable_key_rotation=True,
                      description="rag-assistant alarm notifications")
        key.add_to_resource_policy(iam.PolicyStatement(
            sid="CloudWatchAlarmsUseTheKey", principals=[cloudwatch],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"], resources=["*"], conditions=for_our_alarms))
        self.topic = sns.Topic(self, "AlarmTopic", topic_name="rag-assistant-alarms",
                               master_key=key, enforce_ssl=True)
        self.topic.add_to_resource_policy(iam.PolicyStatement(
            sid="CloudWatchAlarmsPublish", principals=[cloudwatch],
            actions=["sns:Publish"], resources=[self.topic.topic_arn], conditions=for_our_alarms))
        if settings.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(settings.alarm_email))
        action = cw_actions.SnsAction(self.topic)

        def alarm(alarm_id: str, **props) -> None:
            assert props["alarm_name"].startswith(ALARM_NAME_PREFIX), "the topic policy names the alarms it serves"
            created = cw.Alarm(self, alarm_id, treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
                               evaluation_periods=1, **props)
            created.add_alarm_action(action)
            self.alarms.append(created)

        for key_name, function in functions.functions.items():
            spec = functions.specs[key_name]
            errors = cw.MathExpression(
                expression="100 * errors / MAX([invocations, 1])",
                using_metrics={"errors": function.metric_errors(period=PERIOD, statistic="Sum"),
                               "invocations": function.metric_invocations(period=PERIOD, statistic="Sum")},
                label=f"{spec.name} error rate (%)", period=PERIOD)
            alarm(f"{key_name.capitalize()}ErrorRate", alarm_name=f"{spec.name}-error-rate",
                  alarm_description=f"{spec.name}: more than {ERROR_RATE_PERCENT}% of invocations failed",
                  metric=errors, threshold=ERROR_RATE_PERCENT,
                  comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD)
            limit_seconds = spec.timeout.to_seconds()
            if key_name != "upload":  # behind API Gateway, its timeout is the real limit
                limit_seconds = min(limit_seconds, settings.api_integration_timeout_seconds)
            alarm(f"{key_name.capitalize()}Duration", alarm_name=f"{spec.name}-duration",
                  alarm_description=f"{spec.name}: average duration above 80% of its {limit_seconds:g} s limit",
                  metric=function.metric_duration(period=PERIOD, statistic="Average"),
                  threshold=DURATION_FRACTION * limit_seconds * 1000,
                  comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD)

        alarm("Api5xx", alarm_name="rag-assistant-api-5xx",
              alarm_description="API Gateway answered with 5XX errors",
              metric=api.metric_server_error(period=PERIOD, statistic="Sum"), threshold=1,
              comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD)
        throttles = cw.MathExpression(
            expression="reads + writes",
            using_metrics={"reads": storage.table.metric("ReadThrottleEvents", period=PERIOD, statistic="Sum"),
                           "writes": storage.table.metric("WriteThrottleEvents", period=PERIOD, statistic="Sum")},
            label="rag-documents throttled requests", period=PERIOD)
        alarm("TableThrottles", alarm_name="rag-documents-throttles",
              alarm_description="DynamoDB throttled requests on rag-documents", metric=throttles, threshold=1,
              comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD)
        # Refused S3 reads are logged and not retried (aws/s3_events.py): this is how they reach someone.
        denied = cw.Metric(namespace=NAMESPACE, metric_name="AccessDenied", period=PERIOD, statistic="Sum",
                           dimensions_map={"service": SERVICE})
        alarm("UploadAccessDenied", alarm_name="rag-upload-handler-access-denied",
              alarm_description="S3 refused the upload function a read: its role lacks a grant (see its log)",
              metric=denied, threshold=1,
              comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD)
        if functions.dead_letter_queue is not None:
            alarm("IngestionDlq", alarm_name="rag-ingestion-dlq-not-empty",
                  alarm_description="Documents failed ingestion after retries (see rag-ingestion-dlq)",
                  metric=functions.dead_letter_queue.metric_approximate_number_of_messages_visible(
                      period=PERIOD, statistic="Maximum"),
                  threshold=1, comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD)

    def _dashboard(self, functions: RagFunctions, storage: DocumentStorage, api: apigw.RestApi) -> None:
        board = cw.Dashboard(self, "Dashboard", dashboard_name="rag-assistant")
        fns = list(functions.functions.values())
        board.add_widgets(
            cw.GraphWidget(title="Lambda invocations", left=[f.metric_invocations(period=PERIOD) for f in fns], width=8),
            cw.GraphWidget(title="Lambda errors", left=[f.metric_errors(period=PERIOD) for f in fns], width=8),
            cw.GraphWidget(title="Lambda duration (p90)",
                           left=[f.metric_duration(period=PERIOD, statistic="p90") for f in fns], width=8),
        )
        board.add_widgets(
            cw.GraphWidget(title="Concurrent executions",
                           left=[f.metric("ConcurrentExecutions", period=PERIOD, statistic="Maximum") for f in fns],
                           width=8),
            cw.GraphWidget(title="API requests and errors",
                           left=[api.metric_count(period=PERIOD)],
                           right=[api.metric_client_error(period=PERIOD), api.metric_server_error(period=PERIOD)],
                           width=8),
            cw.GraphWidget(title="API latency (p50, p90)",
                           left=[api.metric_latency(period=PERIOD, statistic="p50"),
                                 api.metric_latency(period=PERIOD, statistic="p90")], width=8),
        )
        board.add_widgets(
            cw.GraphWidget(title="DynamoDB capacity consumed",
                           left=[storage.table.metric_consumed_read_capacity_units(period=PERIOD),
                                 storage.table.metric_consumed_write_capacity_units(period=PERIOD)], width=8),
            cw.GraphWidget(title="Documents and questions (RagAssistant)",
                           left=[cw.Metric(namespace=NAMESPACE, metric_name=name, period=PERIOD,
                                           statistic="Sum", dimensions_map={"service": SERVICE})
                                 for name in ("DocumentsIngested", "IngestFailures", "QueryAnswered")], width=8),
            cw.GraphWidget(title="Failed ingestion (DLQ)",
                           left=[functions.dead_letter_queue.metric_approximate_number_of_messages_visible(
                               period=PERIOD)] if functions.dead_letter_queue else [], width=8),
        )
