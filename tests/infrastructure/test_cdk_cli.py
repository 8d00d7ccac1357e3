"""The CDK CLI from npm (infrastructure/cdk/package.json) synthesizes the app offline, as a
user runs it; cfn-lint finds no errors in the templates; the workflow files are valid."""

from __future__ import annotations

import json
import os
import re
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


def _workflow(name: str) -> dict:
    import yaml

    return yaml.safe_load((REPO / ".github" / "workflows" / name).read_text())


def _steps(workflow: dict) -> list[tuple[str, dict]]:
    return [(job, step) for job, body in workflow["jobs"].items() for step in body.get("steps", [])]


def test_workflow_actions_are_pinned_by_commit_and_download_no_test_data() -> None:
    for name in ("ci.yml", "deploy.yml"):
        text = (REPO / ".github" / "workflows" / name).read_text()
        for job, step in _steps(_workflow(name)):
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", step["uses"]), (name, job, step["uses"])
            # Test data is in the repository (tests/fixtures): no step fetches anything from a website.
            assert not re.search(r"\b(curl|wget)\b|https?://", step.get("run", "")), (name, job, step)
        # Each pinned commit names its release in a comment, for people and for update bots.
        assert all(re.search(r"@[0-9a-f]{40} # v\d", line) for line in text.splitlines() if "uses: " in line
                   and "@" in line and not line.strip().startswith("uses: ./")), name


def test_deploy_workflow_synthesizes_then_bootstraps_if_needed_and_deploys_with_credentials_in_that_step_only() -> None:
    deploy = _workflow("deploy.yml")
    assert deploy[True]["push"]["branches"] == ["main"]  # YAML 1.1 reads `on` as True
    assert "workflow_dispatch" in deploy[True]
    job = deploy["jobs"]["deploy"]
    # Dispatch from any branch still deploys only main, in the protected environment.
    assert job["needs"] == "test" and job["if"] == "github.ref == 'refs/heads/main'"
    assert job["environment"] == "production"
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    steps = job["steps"]
    runs = [step.get("run", "") for step in steps]
    synth = next(i for i, r in enumerate(runs) if "cdk synth" in r)
    (last,) = [i for i, r in enumerate(runs) if "cdk deploy" in r]
    assert synth < last and "--app cdk.out" in runs[last]
    assert runs[last].index("cdk bootstrap") < runs[last].index("cdk deploy")
    assert "/cdk-bootstrap/hnb659fds/version" in runs[last]  # only when not bootstrapped yet
    credential_steps = [i for i, step in enumerate(steps) if "configure-aws-credentials" in step.get("uses", "")]
    oidc, keys = (steps[i]["with"] for i in credential_steps)
    assert oidc["role-to-assume"] == "${{ vars.AWS_ROLE_TO_ASSUME }}"  # the documented way
    assert keys["aws-access-key-id"] == "${{ secrets.AWS_ACCESS_KEY_ID }}"  # the fallback
    assert all(c["output-env-credentials"] is False and c["output-credentials"] is True for c in (oidc, keys))
    installs = [i for i, r in enumerate(runs) if "pip install" in r or "npm ci" in r]
    assert max(installs) < synth < min(credential_steps) and max(credential_steps) < last
    # Nothing else sees a key: no job-level credentials, no other step reading them.
    for i, step in enumerate(steps):
        text = json.dumps(step)
        if i not in (*credential_steps, last):
            assert "AWS_ACCESS_KEY_ID" not in text and "aws-access-key-id" not in text, step
    assert "AWS_ACCESS_KEY_ID" not in json.dumps(job.get("env", {}))
    assert set(steps[last]["env"]) >= {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}
    assert "'ap-northeast-2'" in job["env"]["AWS_REGION"]


def test_workflows_cache_pip_npm_and_the_lambda_bundles() -> None:
    for name in ("ci.yml", "deploy.yml"):
        steps = [step for _, step in _steps(_workflow(name))]
        cached = json.dumps([step.get("with", {}) for step in steps if "actions/cache@" in step.get("uses", "")])
        assert ".cache/lambda-build" in cached, name
    deploy = [step for _, step in _steps(_workflow("deploy.yml"))]
    assert any(s.get("with", {}).get("cache") == "pip" for s in deploy)
    assert any(s.get("with", {}).get("cache") == "npm" for s in deploy)
