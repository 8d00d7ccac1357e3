"""The CDK CLI from npm (infrastructure/cdk/package.json) synthesizes the app offline, as a
user runs it; cfn-lint finds no errors in the templates; the workflow files are valid."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cdk_support import CDK_DIR, synthesize

REPO = CDK_DIR.parents[1]
#: CDK writes DependsOn next to a GetAtt of the same resource; harmless, reported as W3005.
KNOWN_WARNINGS = {"W3005"}


def cfn_lint(template: Path) -> list[dict]:
    result = subprocess.run([sys.executable, "-m", "cfnlint", "--format", "json", str(template)],
                            capture_output=True, text=True, timeout=300)
    findings = json.loads(result.stdout or "[]")
    assert result.returncode & 2 == 0, [f for f in findings if f["Level"] == "Error"]  # bit 2: errors
    return findings


@pytest.fixture(scope="module")
def cli_synth(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cdk") / "cdk.out"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # python3 app.py
    env["JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"] = "20"
    result = subprocess.run(["npx", "--no-install", "cdk", "synth", "--quiet", "--output", str(out)],
                            cwd=CDK_DIR, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return out


def test_cdk_synth_offline_builds_the_template_and_the_assets(cli_synth) -> None:
    template = json.loads((cli_synth / "RagServerlessStack.template.json").read_text())
    names = {r["Properties"].get("FunctionName") for r in template["Resources"].values()
             if r["Type"] == "AWS::Lambda::Function"}
    assert {"rag-upload-handler", "rag-query-handler", "rag-documents-handler"} <= names
    assets = json.loads((cli_synth / "RagServerlessStack.assets.json").read_text())["files"]
    staged = [cli_synth / a["source"]["path"] for a in assets.values() if a["source"].get("packaging") == "zip"]
    model = [p for p in staged if (p / "model" / "model.onnx").is_file()]
    assert len(model) == 1, "the embedding layer carries the model"
    assert any((p / "rag_assistant" / "aws" / "upload_handler.py").is_file() for p in staged)


def test_default_template_has_no_cfn_lint_errors(cli_synth) -> None:
    findings = cfn_lint(cli_synth / "RagServerlessStack.template.json")
    assert {f["Rule"]["Id"] for f in findings} <= KNOWN_WARNINGS, findings


def test_template_with_every_option_has_no_cfn_lint_errors(tmp_path) -> None:
    _, template = synthesize(
        profile="production", apiKey="true", documentsCache="true", vpc="true", llmProvider="bedrock",
        openaiSecretId="rag/openai", queryProvisionedConcurrency="1", s3Lifecycle="true",
        alarmEmail="ops@example.com")
    path = tmp_path / "template.json"
    path.write_text(json.dumps(template.to_json()))
    findings = cfn_lint(path)
    assert {f["Rule"]["Id"] for f in findings} <= KNOWN_WARNINGS, findings


def test_github_workflows_are_valid() -> None:
    workflows = sorted((REPO / ".github" / "workflows").glob("*.yml"))
    assert {w.name for w in workflows} >= {"ci.yml", "deploy.yml"}
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
         *map(str, workflows)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_deploy_workflow_synthesizes_then_deploys_with_the_spec_secrets() -> None:
    import yaml

    deploy = yaml.safe_load((REPO / ".github" / "workflows" / "deploy.yml").read_text())
    assert deploy[True]["push"]["branches"] == ["main"]  # YAML 1.1 reads `on` as True
    job = deploy["jobs"]["deploy"]
    assert job["needs"] == "test"
    runs = [step.get("run", "") for step in job["steps"]]
    synth = next(i for i, r in enumerate(runs) if "cdk synth" in r)
    deploy_step = next(i for i, r in enumerate(runs) if "cdk deploy" in r)
    assert synth < deploy_step
    text = (REPO / ".github" / "workflows" / "deploy.yml").read_text()
    for secret in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "LLM_PROVIDER"):
        assert f"secrets.{secret}" in text
    assert "'ap-northeast-2'" in text
