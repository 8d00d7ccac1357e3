"""moto's server, for the tests that run the functions under IAM (tests/lambda_harness.py).

moto enforces IAM once `/moto-api/reset-auth` says so (its INITIAL_NO_AUTH_ACTION_COUNT):
it checks the signature and evaluates the caller's policies (actions, resources, Allow and
Deny; not conditions). For S3 it judges the object's or bucket's ARN, but it judges SSM and
Secrets Manager requests against the resource "*" only, so a policy naming one parameter
would be refused. Its services name the resource they act on through a `_determine_resource`
hook (SQS and IAM use it); here SSM and Secrets Manager get one too, naming the parameter or
secret the request names, as AWS does.

Run: python tests/moto_iam_server.py -H 127.0.0.1 -p PORT
"""

from __future__ import annotations

import sys


def _ssm_resource(self) -> str:
    name = self._get_param("Name")
    if not isinstance(name, str):
        return "*"  # several parameters (GetParameters) or none: moto's own choice
    if name.startswith("arn:"):
        return name
    return f"arn:{self.partition}:ssm:{self.region}:{self.current_account}:parameter/{name.lstrip('/')}"


def _secret_resource(self) -> str:
    secret_id = self._get_param("SecretId")
    if not isinstance(secret_id, str):
        return "*"
    try:
        return self.backend.secrets[secret_id].arn
    except KeyError:
        return secret_id if secret_id.startswith("arn:") else "*"


def main() -> None:
    from moto.secretsmanager.responses import SecretsManagerResponse
    from moto.server import main as moto_main
    from moto.ssm.responses import SimpleSystemManagerResponse

    SimpleSystemManagerResponse._determine_resource = _ssm_resource  # type: ignore[attr-defined]
    SecretsManagerResponse._determine_resource = _secret_resource  # type: ignore[attr-defined]
    moto_main(sys.argv[1:])


if __name__ == "__main__":
    main()
