"""The packaged functions run as Lambda runs them, against the local stand-ins under IAM:

- `FunctionProcess`: one warm execution environment per function (tests/lambda_driver.py):
  a fresh Python that sees only the built assets, takes invocations one at a time, writes
  its log lines to stdout (kept in a file, as CloudWatch Logs keeps them) and records every
  AWS API call it makes.
- `IamMoto`: moto's server (tests/moto_iam_server.py) with IAM enforced once `enforce()`
  is called: roles get exactly the policies given, callers get role-session credentials.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DRIVER = Path(__file__).with_name("lambda_driver.py")
MOTO_IAM_SERVER = Path(__file__).with_name("moto_iam_server.py")


class FunctionProcess:
    def __init__(self, name: str, handler_module: str, paths: list[Path], env: dict[str, str], folder: Path) -> None:
        self.name = name
        folder.mkdir(parents=True, exist_ok=True)
        self.log_file, self.calls_file = folder / f"{name}.log", folder / f"{name}.calls.jsonl"
        self.stderr_file = folder / f"{name}.stderr"
        self.invocations = 0
        read_end, write_end = os.pipe()
        with open(self.log_file, "w") as out, open(self.stderr_file, "w") as err:
            self._process = subprocess.Popen(
                [sys.executable, "-S", str(DRIVER), json.dumps([str(p) for p in paths]), handler_module,
                 str(self.calls_file), str(write_end)],
                stdin=subprocess.PIPE, stdout=out, stderr=err, env=env, pass_fds=(write_end,), text=True)
        os.close(write_end)
        self._results = os.fdopen(read_end, encoding="utf-8")

    def invoke(self, event: dict) -> dict:
        """{"result": ...} or, when the handler raised, {"error": type name, "message": ...}."""
        self.invocations += 1
        request_id = f"{self.name}-request-{self.invocations}"
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps({"event": event, "request_id": request_id}) + "\n")
        self._process.stdin.flush()
        line = self._results.readline()
        if not line:
            raise RuntimeError(f"{self.name} exited: {self.stderr_file.read_text()[-3000:]}")
        return json.loads(line) | {"request_id": request_id}

    def log_lines(self) -> list[str]:
        return [line for line in self.log_file.read_text(encoding="utf-8").splitlines() if line.strip()]

    def calls(self) -> list[dict]:
        if not self.calls_file.exists():
            return []
        return [json.loads(line) for line in self.calls_file.read_text(encoding="utf-8").splitlines()]

    def close(self) -> None:
        if self._process.stdin:
            self._process.stdin.close()
        try:
            self._process.wait(30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._results.close()


class IamMoto:
    ACCOUNT = "123456789012"  # moto's account, and the one the CDK tests synthesize for

    def __init__(self, url: str, region: str) -> None:
        self.url, self.region = url, region
        self._enforced = False
        self.admin = self._user_credentials("operator", [{"Effect": "Allow", "Action": "*", "Resource": "*"}])

    def client(self, service: str, credentials: dict[str, str] | None = None):
        import boto3
        from botocore.config import Config

        creds = credentials or self.admin
        return boto3.client(service, endpoint_url=self.url, region_name=self.region,
                            aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
                            aws_session_token=creds.get("AWS_SESSION_TOKEN"),
                            config=Config(signature_version="s3v4") if service == "s3" else None)

    def _user_credentials(self, name: str, statements: list[dict]) -> dict[str, str]:
        iam = self.client("iam", {"AWS_ACCESS_KEY_ID": "setup", "AWS_SECRET_ACCESS_KEY": "setup"})
        iam.create_user(UserName=name)
        iam.put_user_policy(UserName=name, PolicyName="all",
                            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}

    def role_credentials(self, role_name: str, policies: list[dict]) -> dict[str, str]:
        """A role holding exactly `policies` (one inline policy each), and a session of it."""
        if self._enforced:  # moto's STS cannot judge our trust policy: set up as before enforcing
            with self.unchecked():
                return self._role_credentials(role_name, policies)
        return self._role_credentials(role_name, policies)

    def _role_credentials(self, role_name: str, policies: list[dict]) -> dict[str, str]:
        iam = self.client("iam")
        trust = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"},
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{self.ACCOUNT}:user/operator"},
             "Action": "sts:AssumeRole"}]}
        iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust))
        for number, document in enumerate(policies):
            iam.put_role_policy(RoleName=role_name, PolicyName=f"policy-{number}", PolicyDocument=json.dumps(document))
        session = self.client("sts").assume_role(RoleArn=f"arn:aws:iam::{self.ACCOUNT}:role/{role_name}",
                                                 RoleSessionName=role_name[:64])["Credentials"]
        return {"AWS_ACCESS_KEY_ID": session["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": session["SecretAccessKey"],
                "AWS_SESSION_TOKEN": session["SessionToken"]}

    def _auth_after(self, count: str) -> None:
        request = urllib.request.Request(self.url + "/moto-api/reset-auth", data=count.encode(), method="POST",
                                         headers={"Content-Type": "text/plain"})
        urllib.request.urlopen(request, timeout=10).read()

    def enforce(self) -> None:
        """From now on every request is authenticated and authorized."""
        self._auth_after("0")
        self._enforced = True

    @contextmanager
    def unchecked(self) -> Iterator[None]:
        """For what moto cannot authorize: requests signed in the URL (presigned PUTs)."""
        self._auth_after("inf")
        try:
            yield
        finally:
            if self._enforced:
                self._auth_after("0")


@contextmanager
def running_iam_moto(region: str) -> Iterator[IamMoto]:
    from aws_services import _free_port, _stop, _wait_for

    port = _free_port()
    process = subprocess.Popen([sys.executable, str(MOTO_IAM_SERVER), "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(url + "/moto-api/", process, "moto server (IAM)")
        yield IamMoto(url, region)
    finally:
        _stop(process)


def wait_until(check, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)
