"""Shared helpers for the CDK tests: synthesize RagServerlessStack with chosen settings.

(Not a conftest.py: tests/conftest.py already owns that module name.)"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

CDK_DIR = Path(__file__).resolve().parents[2] / "infrastructure" / "cdk"
ACCOUNT = "123456789012"
REGION = "ap-northeast-2"
# Node 20 is what this machine has; jsii warns about it on every start.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
if str(CDK_DIR) not in sys.path:
    sys.path.insert(0, str(CDK_DIR))


def synthesize(bundle: bool = False, **context):
    """(stack, Template) for the app in app.py with the given context settings.

    Bundling is skipped unless asked for (CDK's own `aws:cdk:bundling-stacks` switch): the
    template does not depend on the assets' contents, and test_lambda_packaging builds them.
    """
    import aws_cdk as cdk
    from app import build_app
    from aws_cdk.assertions import Template

    settings = {"account": ACCOUNT, "region": REGION} | context
    app_context = {k: v for k, v in settings.items()}
    # What `cdk synth` would have cached in cdk.context.json after looking the AZs up.
    app_context[f"availability-zones:account={ACCOUNT}:region={REGION}"] = [f"{REGION}a", f"{REGION}c"]
    if not bundle:
        app_context["aws:cdk:bundling-stacks"] = []
    app = cdk.App(context=app_context)
    stack = build_app(app)
    app.synth()  # runs cdk-nag: unacknowledged findings fail here
    return stack, Template.from_stack(stack)


@pytest.fixture(scope="session")
def default_stack():
    return synthesize()


@pytest.fixture(scope="session")
def local_bundles(tmp_path_factory) -> dict:
    """The bundles as `cdk synth` builds them, for this machine's Python (to run them here):
    code, common and ml (with the model), shared by the tests that run packaged handlers."""
    from rag_stack import packaging

    root = tmp_path_factory.mktemp("local-bundles")
    target = packaging.Target(f"{sys.version_info.major}.{sys.version_info.minor}", "x86_64")
    return {kind: packaging.build_bundle(root / kind, pieces, target, layer=kind != "code")
            for kind, pieces in packaging.bundle_kinds(True).items()}
