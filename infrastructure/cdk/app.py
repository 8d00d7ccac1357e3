#!/usr/bin/env python3
"""The CDK app: `npx cdk synth | deploy | diff | destroy | list` from this folder.

Region: -c region=..., else AWS_REGION / AWS_DEFAULT_REGION, else ap-northeast-2.
Account: the CLI's credentials (CDK_DEFAULT_ACCOUNT). Every other setting: rag_stack/settings.py.
"""

from __future__ import annotations

import aws_cdk as cdk
from rag_serverless_stack import STACK_NAME, RagServerlessStack

from rag_stack.nag import check_with_cdk_nag
from rag_stack.settings import StackSettings


def build_app(app: cdk.App) -> RagServerlessStack:
    keys = StackSettings.context_keys()
    settings = StackSettings.from_context({k: app.node.try_get_context(k) for k in keys})
    stack = RagServerlessStack(
        app, STACK_NAME, settings=settings,
        env=cdk.Environment(account=settings.account, region=settings.region),
        description="Serverless RAG Assistant: S3 + Lambda + API Gateway + DynamoDB",
    )
    check_with_cdk_nag(app)
    return stack


if __name__ == "__main__":
    application = cdk.App()
    build_app(application)
    application.synth()
