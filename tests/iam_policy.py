"""IAM as AWS applies it, for the tests that prove the stack's grants by the calls the
functions make (tests/infrastructure/test_iam_calls.py).

Three parts, each small and strict (anything it does not understand raises, so a new
kind of statement or call fails the test instead of passing unexamined):

- `Deployment`: the synthesized template read as CloudFormation would create it, with
  Ref/Fn::GetAtt/Fn::Join resolved to names and ARNs (the role policies, the bucket
  policy, the functions' environment).
- `needs(call)`: what one recorded AWS API call needs, as IAM actions on resource ARNs,
  including the rules the emulators do not apply (AWS_RULES below).
- `evaluate(...)`: the policy evaluation logic for one account: an explicit Deny in any
  applicable policy wins, else an Allow in the role's policies or in the resource's policy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

#: AWS behaviours no emulator here shows, each applied by `needs()` (docs/DEPLOYMENT_AWS.md lists them).
AWS_RULES = {
    "s3-404-needs-list-bucket": (
        "S3 answers 404 for a missing key only to a caller with s3:ListBucket on the bucket; without "
        "it, 403 AccessDenied. Our code reads keys that may be gone (a removal is confirmed by a 404), "
        "so every GetObject/HeadObject needs s3:ListBucket too. moto answers 404 either way."),
    "sse-kms-needs-decrypt": (
        "Reading an object encrypted with SSE-KMS under a customer managed key needs kms:Decrypt on "
        "that key (writing one: kms:GenerateDataKey). moto and the AWS managed aws/s3 key need none."),
    "securestring-needs-decrypt": (
        "GetParameter WithDecryption of a SecureString under a customer managed key needs kms:Decrypt "
        "on that key; under the AWS managed aws/ssm key it needs nothing more. moto checks no KMS."),
    "secret-needs-decrypt": (
        "GetSecretValue of a secret encrypted under a customer managed key needs kms:Decrypt on it."),
    "presigned-url-acts-as-the-signer": (
        "A presigned URL carries the signer's authority: the PUT a browser makes with it is allowed "
        "only if the signing role may s3:PutObject that key (moto cannot check presigned requests)."),
    "transactions-check-each-item": (
        "TransactWriteItems/TransactGetItems and batch calls are authorized per item and table."),
}


# --- the template, resolved ----------------------------------------------------------------


@dataclass
class Deployment:
    """A synthesized template as deployed in `account`/`region`; `names` overrides physical names."""

    template: dict
    account: str
    region: str
    partition: str = "aws"
    names: dict[str, str] = field(default_factory=dict)

    @property
    def resources(self) -> dict[str, dict]:
        return self.template["Resources"]

    def name(self, logical: str) -> str:
        if logical in self.names:
            return self.names[logical]
        resource = self.resources[logical]
        props = resource.get("Properties", {})
        key = {"AWS::S3::Bucket": "BucketName", "AWS::DynamoDB::Table": "TableName", "AWS::SQS::Queue": "QueueName",
               "AWS::Logs::LogGroup": "LogGroupName", "AWS::Lambda::Function": "FunctionName",
               "AWS::IAM::Role": "RoleName", "AWS::SNS::Topic": "TopicName"}.get(resource["Type"])
        value = props.get(key) if key else None
        return self.resolve(value) if value is not None else logical

    def arn(self, logical: str) -> str:
        kind = self.resources[logical]["Type"]
        name, p, r, a = self.name(logical), self.partition, self.region, self.account
        formats = {
            "AWS::S3::Bucket": f"arn:{p}:s3:::{name}",
            "AWS::DynamoDB::Table": f"arn:{p}:dynamodb:{r}:{a}:table/{name}",
            "AWS::SQS::Queue": f"arn:{p}:sqs:{r}:{a}:{name}",
            "AWS::Logs::LogGroup": f"arn:{p}:logs:{r}:{a}:log-group:{name}:*",
            "AWS::Lambda::Function": f"arn:{p}:lambda:{r}:{a}:function:{name}",
            "AWS::IAM::Role": f"arn:{p}:iam::{a}:role/{name}",
            "AWS::SNS::Topic": f"arn:{p}:sns:{r}:{a}:{name}",
            "AWS::KMS::Key": f"arn:{p}:kms:{r}:{a}:key/{name}",
        }
        if kind not in formats:
            raise NotImplementedError(f"no ARN format for {kind} ({logical})")
        return formats[kind]

    def ref(self, logical: str) -> str:
        pseudo = {"AWS::Partition": self.partition, "AWS::Region": self.region, "AWS::AccountId": self.account,
                  "AWS::URLSuffix": "amazonaws.com", "AWS::StackName": "RagServerlessStack"}
        if logical in pseudo:
            return pseudo[logical]
        kind = self.resources[logical]["Type"]
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.{self.region}.amazonaws.com/{self.account}/{self.name(logical)}"
        if kind == "AWS::SNS::Topic":
            return self.arn(logical)
        return self.name(logical)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (function, argument), = value.items()
            if function == "Ref":
                return self.ref(argument)
            if function == "Fn::GetAtt":
                logical, attribute = argument
                if attribute in ("Arn", "TopicArn"):
                    return self.arn(logical)
                raise NotImplementedError(f"Fn::GetAtt {logical}.{attribute}")
            if function == "Fn::Join":
                separator, parts = argument
                return separator.join(str(self.resolve(p)) for p in parts)
            if function.startswith("Fn::"):
                raise NotImplementedError(f"{function} in {value}")
        return {k: self.resolve(v) for k, v in value.items()}

    # --- what a function has ---------------------------------------------------------------

    def function(self, name: str) -> tuple[str, dict]:
        for logical, resource in self.resources.items():
            if resource["Type"] == "AWS::Lambda::Function" and resource["Properties"].get("FunctionName") == name:
                return logical, resource
        raise KeyError(f"no function {name!r} in the template")

    def role_of(self, function_name: str) -> str:
        _, function = self.function(function_name)
        role = function["Properties"]["Role"]
        if not (isinstance(role, dict) and "Fn::GetAtt" in role):
            raise NotImplementedError(f"role of {function_name}: {role}")
        return role["Fn::GetAtt"][0]

    def identity_policies(self, function_name: str) -> list[dict]:
        """The role's inline policy documents, resolved (one per AWS::IAM::Policy)."""
        role = self.role_of(function_name)
        documents = [self.resolve(p["PolicyDocument"])
                     for p in self.resources[role]["Properties"].get("Policies", [])]
        for resource in self.resources.values():
            if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role} in resource["Properties"]["Roles"]:
                documents.append(self.resolve(resource["Properties"]["PolicyDocument"]))
        return documents

    def managed_policies(self, function_name: str) -> list[str]:
        role = self.role_of(function_name)
        return [self.resolve(a) for a in self.resources[role]["Properties"].get("ManagedPolicyArns", [])]

    def environment(self, function_name: str) -> dict[str, str]:
        _, function = self.function(function_name)
        return {k: str(v) for k, v in
                self.resolve(function["Properties"].get("Environment", {}).get("Variables", {})).items()}

    def resource_policies(self, resource_arn: str) -> list[dict]:
        """Bucket policies that apply to a bucket or object ARN (the only resource policies
        on what the functions call)."""
        documents = []
        for resource in self.resources.values():
            if resource["Type"] == "AWS::S3::BucketPolicy":
                bucket = self.resolve(resource["Properties"]["Bucket"])
                if resource_arn == f"arn:{self.partition}:s3:::{bucket}" or resource_arn.startswith(
                        f"arn:{self.partition}:s3:::{bucket}/"):
                    documents.append(self.resolve(resource["Properties"]["PolicyDocument"]))
        return documents


# --- what a call needs -------------------------------------------------------------------


@dataclass(frozen=True)
class Need:
    action: str
    resource: str
    why: str  # the call, and the rule when one applies

    def __str__(self) -> str:
        return f"{self.action} on {self.resource} ({self.why})"


#: Operation -> IAM action, where the action is not service:Operation.
_S3_ACTIONS = {"HeadObject": "s3:GetObject", "ListObjectsV2": "s3:ListBucket", "ListObjects": "s3:ListBucket",
               "HeadBucket": "s3:ListBucket", "CreateMultipartUpload": "s3:PutObject", "UploadPart": "s3:PutObject",
               "CompleteMultipartUpload": "s3:PutObject", "DeleteObjects": "s3:DeleteObject"}
_S3_BUCKET_OPERATIONS = {"ListObjectsV2", "ListObjects", "HeadBucket", "GetBucketLocation", "ListObjectVersions"}
_BEDROCK_ACTIONS = {"Converse": "bedrock:InvokeModel", "ConverseStream": "bedrock:InvokeModelWithResponseStream"}
_TRANSACT_WRITE = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}
AWS_MANAGED_KEY_ALIASES = ("alias/aws/s3", "alias/aws/ssm", "alias/aws/secretsmanager")


@dataclass
class Facts:
    """What a call record cannot show: the KMS key of each SSM parameter and secret (None:
    the AWS managed key), and which keys are AWS managed."""

    parameter_keys: dict[str, str | None] = field(default_factory=dict)
    secret_keys: dict[str, str | None] = field(default_factory=dict)
    aws_managed_keys: set[str] = field(default_factory=set)


def needs(call: dict, account: str, region: str, facts: Facts | None = None, partition: str = "aws") -> list[Need]:
    """The permissions one recorded call needs (call: see tests/lambda_driver.py)."""
    facts = facts or Facts()
    service, operation, params = call["signing_name"], call["operation"], call["params"]
    response = call.get("response", {})
    label = f"{call['service']}.{operation}" + (" (presigned)" if call.get("presign") else "")

    def kms_decrypt(key: str | None, rule: str, action: str = "kms:Decrypt") -> list[Need]:
        if key is None or key in facts.aws_managed_keys or key in AWS_MANAGED_KEY_ALIASES:
            return []
        arn = key if key.startswith("arn:") else f"arn:{partition}:kms:{region}:{account}:key/{key}"
        return [Need(action, arn, f"{label}; rule {rule}")]

    if service == "s3":
        bucket_arn = f"arn:{partition}:s3:::{params['Bucket']}"
        if operation in _S3_BUCKET_OPERATIONS:
            return [Need(_S3_ACTIONS.get(operation, f"s3:{operation}"), bucket_arn, label)]
        if "Key" not in params:
            raise NotImplementedError(f"S3 {operation} without a key: teach needs() its resource")
        action = _S3_ACTIONS.get(operation, f"s3:{operation}")
        if params.get("VersionId"):
            action += "Version"
        why = label + ("; rule presigned-url-acts-as-the-signer" if call.get("presign") else "")
        result = [Need(action, f"{bucket_arn}/{params['Key']}", why)]
        if operation in ("GetObject", "HeadObject"):
            result.append(Need("s3:ListBucket", bucket_arn, f"{label}; rule s3-404-needs-list-bucket"))
            if response.get("ServerSideEncryption") == "aws:kms":
                result += kms_decrypt(response.get("SSEKMSKeyId"), "sse-kms-needs-decrypt")
        if operation == "PutObject" and params.get("ServerSideEncryption") == "aws:kms":
            result += kms_decrypt(params.get("SSEKMSKeyId"), "sse-kms-needs-decrypt", "kms:GenerateDataKey")
        return result

    if service == "dynamodb":
        def table(name: str, index: str | None = None) -> str:
            arn = f"arn:{partition}:dynamodb:{region}:{account}:table/{name}"
            return f"{arn}/index/{index}" if index else arn

        if operation in ("BatchWriteItem", "BatchGetItem"):
            return [Need(f"dynamodb:{operation}", table(t), label) for t in params["RequestItems"]]
        if operation == "TransactWriteItems":
            return [Need(f"dynamodb:{_TRANSACT_WRITE[kind]}", table(t), f"{label}; rule transactions-check-each-item")
                    for kind, t in params["TransactItems"]]
        if operation == "TransactGetItems":
            return [Need("dynamodb:GetItem", table(t), f"{label}; rule transactions-check-each-item")
                    for _, t in params["TransactItems"]]
        if "TableName" not in params:
            raise NotImplementedError(f"DynamoDB {operation} without TableName: teach needs() its resource")
        return [Need(f"dynamodb:{operation}", table(params["TableName"], params.get("IndexName")), label)]

    if service == "ssm":
        if operation not in ("GetParameter", "GetParameters"):
            raise NotImplementedError(f"SSM {operation}: teach needs() its resource")
        names = [params["Name"]] if operation == "GetParameter" else list(params["Names"])
        result = []
        for name in names:
            arn = name if name.startswith("arn:") else f"arn:{partition}:ssm:{region}:{account}:parameter/{name.lstrip('/')}"
            result.append(Need(f"ssm:{operation}", arn, label))
            if params.get("WithDecryption"):
                result += kms_decrypt(facts.parameter_keys.get(name), "securestring-needs-decrypt")
        return result

    if service == "secretsmanager":
        arn = response.get("ARN") or params["SecretId"]
        if not arn.startswith("arn:"):
            arn = f"arn:{partition}:secretsmanager:{region}:{account}:secret:{arn}-??????"
        return [Need(f"secretsmanager:{operation}", arn, label),
                *kms_decrypt(facts.secret_keys.get(params["SecretId"]), "secret-needs-decrypt")]

    if service == "bedrock":
        model = params["modelId"]
        arn = model if model.startswith("arn:") else f"arn:{partition}:bedrock:{region}::foundation-model/{model}"
        return [Need(_BEDROCK_ACTIONS.get(operation, f"bedrock:{operation}"), arn, label)]

    raise NotImplementedError(f"{service}.{operation}: teach needs() this service's resource ARNs")


# --- policy evaluation ---------------------------------------------------------------------


def _listed(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _glob(pattern: str, value: str, *, case: bool = True) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, 0 if case else re.IGNORECASE) is not None


def action_matches(pattern: str, action: str) -> bool:
    return _glob(pattern, action, case=False)


_OPERATORS = {
    "StringEquals": lambda want, have: have == want,
    "StringNotEquals": lambda want, have: have != want,
    "StringEqualsIgnoreCase": lambda want, have: have.lower() == want.lower(),
    "StringLike": lambda want, have: _glob(want, have),
    "StringNotLike": lambda want, have: not _glob(want, have),
    "ArnEquals": lambda want, have: have == want,
    "ArnLike": lambda want, have: _glob(want, have),
    "ArnNotEquals": lambda want, have: have != want,
    "ArnNotLike": lambda want, have: not _glob(want, have),
    "Bool": lambda want, have: str(have).lower() == str(want).lower(),
}


def conditions_hold(conditions: dict, context: dict[str, str]) -> bool:
    for operator, tests in conditions.items():
        if_exists = operator.endswith("IfExists")
        base = operator.removesuffix("IfExists")
        if ":" in base:
            raise NotImplementedError(f"condition set operator {operator}")
        for key, wanted in tests.items():
            have = next((v for k, v in context.items() if k.lower() == key.lower()), None)
            if base == "Null":
                if (have is None) != (str(wanted).lower() == "true"):
                    return False
                continue
            if base not in _OPERATORS:
                raise NotImplementedError(f"condition operator {operator}")
            if have is None:
                # A missing key: positive operators fail, negated ones hold (as in AWS).
                if if_exists or "Not" in base:
                    continue
                return False
            results = [_OPERATORS[base](str(w), str(have)) for w in _listed(wanted)]
            held = all(results) if "Not" in base else any(results)
            if not held:
                return False
    return True


def statement_applies(statement: dict, action: str, resource: str, context: dict[str, str],
                      principal: str | None = None) -> bool:
    unknown = set(statement) - {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition",
                                "Principal"}
    if unknown or "NotPrincipal" in statement:
        raise NotImplementedError(f"statement elements {unknown or 'NotPrincipal'}")
    if "Action" in statement:
        if not any(action_matches(p, action) for p in _listed(statement["Action"])):
            return False
    elif any(action_matches(p, action) for p in _listed(statement["NotAction"])):
        return False
    if "Resource" in statement:
        if not any(_glob(p, resource) for p in _listed(statement["Resource"])):
            return False
    elif "NotResource" in statement and any(_glob(p, resource) for p in _listed(statement["NotResource"])):
        return False
    if "Principal" in statement and not _principal_matches(statement["Principal"], principal, statement["Effect"]):
        return False
    return conditions_hold(statement.get("Condition", {}), context)


def _principal_matches(principal: Any, ours: str | None, effect: str) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        raise NotImplementedError(f"Principal {principal}")
    wanted = [str(p) for p in _listed(principal.get("AWS", []))]
    if "*" in wanted:
        return True
    if ours is None:
        return False
    if ours.endswith(".amazonaws.com"):  # a service principal, e.g. cloudwatch.amazonaws.com
        return ours in _listed(principal.get("Service", []))
    if ours in wanted:
        return True
    # The account itself: a Deny covers every principal in it; an Allow only hands the
    # decision to the account's IAM policies (it grants nothing by itself).
    account_root = re.sub(r":(role|user)/.*$", ":root", ours)
    return effect == "Deny" and account_root in wanted


@dataclass
class Decision:
    allowed: bool
    denied_by: list[str] = field(default_factory=list)
    allowed_by: list[tuple[int, int, str]] = field(default_factory=list)  # (policy, statement, action pattern)


def evaluate(identity: list[dict], resource_policies: list[dict], action: str, resource: str,
             context: dict[str, str], principal: str) -> Decision:
    decision = Decision(allowed=False)
    for source, documents in (("identity", identity), ("resource", resource_policies)):
        for p, document in enumerate(documents):
            for s, statement in enumerate(_listed(document["Statement"])):
                if not statement_applies(statement, action, resource, context,
                                         principal if source == "resource" else None):
                    continue
                if statement["Effect"] == "Deny":
                    decision.denied_by.append(f"{source} policy statement {statement.get('Sid', s)}")
                elif source == "identity":
                    patterns = [a for a in _listed(statement.get("Action", [])) if action_matches(a, action)]
                    decision.allowed_by += [(p, s, a) for a in patterns or ["(NotAction)"]]
                else:
                    decision.allowed_by.append((-1, s, action))
    decision.allowed = bool(decision.allowed_by) and not decision.denied_by
    return decision


# --- the check ---------------------------------------------------------------------------------


@dataclass
class Report:
    refused: list[str] = field(default_factory=list)
    used: set[tuple[int, int, str]] = field(default_factory=set)

    def unused(self, identity: list[dict]) -> set[str]:
        """Granted action patterns that allowed no recorded need."""
        granted = {(p, s, a) for p, document in enumerate(identity)
                   for s, statement in enumerate(_listed(document["Statement"])) if statement["Effect"] == "Allow"
                   for a in _listed(statement.get("Action", []))}
        used_actions = {a for (_, _, a) in self.used}
        return {a for (_, _, a) in granted - self.used if a not in used_actions}


def check_calls(deployment: Deployment, function_name: str, calls: Iterable[dict],
                facts: Facts | None = None) -> Report:
    """Every call of `function_name` against its role's policies and the resource policies."""
    identity = deployment.identity_policies(function_name)
    role_arn = deployment.arn(deployment.role_of(function_name))
    context = {"aws:SecureTransport": "true", "aws:PrincipalAccount": deployment.account,
               "aws:PrincipalArn": role_arn, "aws:RequestedRegion": deployment.region}
    report = Report()
    for call in calls:
        for need in needs(call, deployment.account, deployment.region, facts, deployment.partition):
            decision = evaluate(identity, deployment.resource_policies(need.resource), need.action, need.resource,
                                context, role_arn)
            report.used.update(decision.allowed_by)
            if not decision.allowed:
                cause = f"denied by {', '.join(decision.denied_by)}" if decision.denied_by else "no statement allows it"
                report.refused.append(f"{function_name}: {need}: {cause}")
    return report


def without_action(template: dict, function_role: str, action: str) -> dict:
    """A copy of `template` in which the role `function_role` (logical id) lacks `action`."""
    import copy

    changed = copy.deepcopy(template)
    found = False
    for resource in changed["Resources"].values():
        if resource["Type"] != "AWS::IAM::Policy" or {"Ref": function_role} not in resource["Properties"]["Roles"]:
            continue
        kept = []
        for statement in _listed(resource["Properties"]["PolicyDocument"]["Statement"]):
            actions = [a for a in _listed(statement["Action"]) if a != action]
            found |= len(actions) != len(_listed(statement["Action"]))
            if actions:
                kept.append(dict(statement, Action=actions if len(actions) > 1 else actions[0]))
        resource["Properties"]["PolicyDocument"]["Statement"] = kept
    if not found:
        raise KeyError(f"{function_role} has no {action} to remove")
    return changed

