"""Checkov (Bridgecrew's IaC scanner) on the synthesized template: no failed check on the
default stack or on every option at once. Each accepted finding is skipped on its resource
with its reason (rag_stack/checkov.py), and only while the reason holds."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from cdk_support import CDK_DIR, synthesize

CHECKOV = CDK_DIR.parents[1] / "tools" / "checkov" / ".venv" / "bin" / "checkov"
EVERYTHING = dict(profile="production", apiKey="all", documentsCache="true", vpc="true", vpcNatGateways="0",
                  llmProvider="bedrock", openaiSecretId="rag/openai", queryProvisionedConcurrency="1",
                  s3Lifecycle="true", alarmEmail="ops@example.com", corsAllowedOrigins="https://a.example")


def checkov(template: dict, folder: Path) -> dict:
    if not CHECKOV.exists():
        pytest.fail(f"checkov is not installed at {CHECKOV}: run `make install-test`")
    path = folder / "template.json"
    path.write_text(json.dumps(template))
    run = subprocess.run([str(CHECKOV), "--file", str(path), "--framework", "cloudformation", "--output", "json",
                          "--skip-download"], capture_output=True, text=True, timeout=600)
    report = json.loads(run.stdout)
    assert report["summary"]["parsing_errors"] == 0, run.stderr[-2000:]
    return report


def findings(report: dict, kind: str) -> list[tuple[str, str]]:
    return sorted((c["check_id"], c["resource"]) for c in report["results"][kind])


@pytest.mark.parametrize("context", [{}, EVERYTHING], ids=["default", "every-option"])
def test_checkov_passes_with_every_accepted_finding_explained(context: dict, tmp_path: Path) -> None:
    _, template = synthesize(**context)
    report = checkov(template.to_json(), tmp_path)
    assert findings(report, "failed_checks") == []
    assert report["summary"]["passed"] > 100  # it really looked
    for check in report["results"]["skipped_checks"]:
        assert len(check["check_result"].get("suppress_comment", "")) > 20, check["check_id"]


def test_a_finding_without_its_reason_fails(tmp_path: Path) -> None:
    _, template = synthesize(bucketVersioning="true", tracing="true")
    raw = template.to_json()
    # The settings that remove a reason remove its skip too: versioning and tracing now pass ...
    report = checkov(raw, tmp_path)
    passed = {c["check_id"] for c in report["results"]["passed_checks"]}
    assert {"CKV_AWS_21", "CKV_AWS_73"} <= passed
    # ... and an accepted finding whose acknowledgment is gone fails the scan.
    (bucket,) = [r for r in raw["Resources"].values() if r["Type"] == "AWS::S3::Bucket"]
    del bucket["Metadata"]["checkov"]
    failed = findings(checkov(raw, tmp_path), "failed_checks")
    assert [check for check, _ in failed] == ["CKV_AWS_18"]
