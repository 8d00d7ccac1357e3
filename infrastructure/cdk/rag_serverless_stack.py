"""RagServerlessStack: S3 -> Lambda ingestion, API Gateway -> Lambda queries, DynamoDB.

The parts live in rag_stack/ (settings, packaging, storage, functions, api, monitoring,
network); this module wires them together and declares the outputs of the spec.
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack, Tags
from constructs import Construct

from rag_stack.api import RagApi
from rag_stack.checkov import acknowledge_checkov_findings
from rag_stack.functions import RagFunctions
from rag_stack.monitoring import Monitoring
from rag_stack.nag import acknowledge_stack_findings
from rag_stack.network import Network
from rag_stack.settings import StackSettings
from rag_stack.storage import DocumentStorage

STACK_NAME = "RagServerlessStack"


class RagServerlessStack(Stack):
    def __init__(self, scope: Construct, construct_id: str = STACK_NAME, *,
                 settings: StackSettings, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.settings = settings
        Tags.of(self).add("application", "rag-assistant")

        self.storage = DocumentStorage(self, "Storage", settings=settings,
                                       account=self.account, region=self.region)
        self.network = Network(self, "Network", settings=settings) if settings.vpc else None
        self.functions = RagFunctions(self, "Functions", settings=settings, storage=self.storage,
                                      vpc=self.network.vpc if self.network else None)
        self.api = RagApi(self, "Api", settings=settings, functions=self.functions)
        self.monitoring = Monitoring(self, "Monitoring", settings=settings, functions=self.functions,
                                     storage=self.storage, api=self.api.api)

        CfnOutput(self, "ApiEndpoint", value=self.api.api.url,
                  description="Base URL; the routes are under rag/ (POST rag/query, GET rag/documents)")
        CfnOutput(self, "DocumentsBucketName", value=self.storage.bucket.bucket_name)
        CfnOutput(self, "VectorStoreTableName", value=self.storage.table.table_name)
        for key, name in (("upload", "UploadHandlerName"), ("query", "QueryHandlerName"),
                          ("documents", "DocumentsHandlerName")):
            CfnOutput(self, name, value=self.functions.functions[key].function_name)
        if self.api.api_key is not None:
            CfnOutput(self, "ApiKeyId", value=self.api.api_key.key_id,
                      description="aws apigateway get-api-key --include-value --api-key <id>")
        if self.functions.dead_letter_queue is not None:
            CfnOutput(self, "IngestionDeadLetterQueueUrl", value=self.functions.dead_letter_queue.queue_url)
        acknowledge_stack_findings(self)
        acknowledge_checkov_findings(self)
