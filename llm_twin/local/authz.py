"""IAM enforcement in the embedded local AWS, against the resource ARNs AWS itself checks.

moto's "IAM-like access control" (its `INITIAL_NO_AUTH_ACTION_COUNT`) checks S3, IAM
and EC2 requests against their resources, but every JSON-protocol call (SageMaker,
ECR, Application Auto Scaling, CloudWatch) against resource `*`. An ARN-scoped
statement such as `sagemaker:...:model/llm-twin-*` then matches nothing, so a narrow
identity is denied even what it is allowed, and a test proves nothing. This module:

- switches moto's enforcement on, and makes the local admin (`test`/`test`) a real IAM
  user with an allow-all policy, created through the backend before any request;
- authorizes those services' actions against the real ARN built from the request
  (model, endpoint-config, endpoint, repository, scalable target, alarm), with the
  condition keys AWS sets (`iam:PassedToService`, `application-autoscaling:*`);
- checks `iam:PassRole` when CreateModel passes an ExecutionRoleArn, as AWS does;
- lends the same checks to the local runtime (`authorize_request`), which answers
  InvokeEndpoint[WithResponseStream] before moto sees them;
- names S3 requests with their real IAM actions, where moto invents or omits them.

Not checked: moto's S3 falls back to s3:ListBucket / s3:CreateBucket for any bucket
sub-resource it does not name (see `S3_BUCKET_ACTIONS`); the admin is forgotten by
moto's reset API like everything else.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

ENFORCE_ENV = "LOCAL_AWS_ENFORCE_IAM"
ADMIN_USER = "local-admin"
# The key the CLI and tests already use for the local admin (llm_twin.deploy.LOCAL_ADMIN).
ADMIN_ACCESS_KEY_ID = "test"
ADMIN_SECRET_ACCESS_KEY = "test"
ADMIN_POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}

# Bucket sub-resources moto maps to a wrong or no IAM action (query key -> action).
S3_BUCKET_ACTIONS = {
    "HEAD": {"DEFAULT": "ListBucket"},
    "GET": {
        "publicAccessBlock": "GetBucketPublicAccessBlock",
        "encryption": "GetEncryptionConfiguration",
        "ownershipControls": "GetBucketOwnershipControls",
        "replication": "GetReplicationConfiguration",
        "object-lock": "GetBucketObjectLockConfiguration",
        "requestPayment": "GetBucketRequestPayment",
        "policyStatus": "GetBucketPolicyStatus",
    },
    "PUT": {
        "publicAccessBlock": "PutBucketPublicAccessBlock",
        "encryption": "PutEncryptionConfiguration",
        "ownershipControls": "PutBucketOwnershipControls",
        "replication": "PutReplicationConfiguration",
        "object-lock": "PutBucketObjectLockConfiguration",
        "requestPayment": "PutBucketRequestPayment",
    },
    "DELETE": {
        "publicAccessBlock": "PutBucketPublicAccessBlock",
        "encryption": "PutEncryptionConfiguration",
        "ownershipControls": "PutBucketOwnershipControls",
        "replication": "PutReplicationConfiguration",
    },
}

_ENABLED = False


def enforcement_requested(environ: Mapping[str, str] | None = None) -> bool:
    """True when LOCAL_AWS_ENFORCE_IAM is set to a true value (read when asked)."""
    value = (os.environ if environ is None else environ).get(ENFORCE_ENV, "")
    return value.strip().lower() in {"1", "true", "yes", "on"}


def apply_if_requested() -> None:
    """The hook for `patches.apply_all()`: enforce IAM only when the environment asks."""
    if enforcement_requested():
        enable()


def enabled() -> bool:
    """True once `enable()` ran in this process: every request must then be authorized."""
    return _ENABLED


# -- policy evaluation -----------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One authorization AWS makes for a request."""

    action: str
    """Service prefix and action, e.g. sagemaker:CreateModel."""
    resource: str
    """The ARN the action is on, or "*" for actions without a resource type."""
    context: Mapping[str, str] = field(default_factory=dict)
    """Condition keys the request sets, e.g. iam:PassedToService."""


def _wildcard(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    regex = fnmatch.translate(pattern)  # * and ? only: [..] cannot occur in ARNs we write
    return re.match(regex, value, re.IGNORECASE if ignore_case else 0) is not None


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _condition_holds(operator: str, expected: list[str], actual: str | None) -> bool | None:
    """One condition on one key; None for an operator this evaluator does not know."""
    if_exists = operator.endswith("IfExists")
    operator = operator.removesuffix("IfExists")
    negated = "Not" in operator
    if actual is None:
        return if_exists or negated
    if operator in ("StringEquals", "StringNotEquals", "ArnEquals", "ArnNotEquals"):
        found = actual in expected
    elif operator in ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"):
        found = actual.lower() in {e.lower() for e in expected}
    elif operator in ("StringLike", "StringNotLike", "ArnLike", "ArnNotLike"):
        found = any(_wildcard(e, actual) for e in expected)
    elif operator == "Bool":
        return actual.lower() in {e.lower() for e in expected}
    else:
        return None
    return not found if negated else found


def _conditions_hold(conditions: Mapping[str, Mapping[str, Any]], context: Mapping[str, str]) -> bool | None:
    by_key = {key.lower(): value for key, value in context.items()}
    for operator, keys in conditions.items():
        for key, expected in keys.items():
            holds = _condition_holds(operator, _listed(expected), by_key.get(key.lower()))
            if not holds:
                return holds
    return True


def _statement_effect(statement: Mapping[str, Any], check: Check) -> str | None:
    """ "Allow", "Deny" or None when the statement does not apply to the check."""
    if "Action" in statement:
        if not any(_wildcard(a, check.action, ignore_case=True) for a in _listed(statement["Action"])):
            return None
    elif any(_wildcard(a, check.action, ignore_case=True) for a in _listed(statement.get("NotAction", []))):
        return None
    if "Resource" in statement:
        if not any(_wildcard(r, check.resource) for r in _listed(statement["Resource"])):
            return None
    elif "NotResource" in statement and any(
        _wildcard(r, check.resource) for r in _listed(statement["NotResource"])
    ):
        return None
    holds = _conditions_hold(statement.get("Condition", {}), check.context)
    effect = statement.get("Effect")
    if holds is None:
        # An unknown operator: fail closed, which for a Deny means it applies.
        return "Deny" if effect == "Deny" else None
    return effect if holds else None


def decide(documents: Iterable[Mapping[str, Any]], check: Check) -> str | None:
    """IAM's identity-policy logic: "Deny" when a statement denies, else "Allow" when one allows, else None."""
    allowed = False
    for document in documents:
        for statement in _listed_statements(document.get("Statement", [])):
            effect = _statement_effect(statement, check)
            if effect == "Deny":
                return "Deny"
            allowed = allowed or effect == "Allow"
    return "Allow" if allowed else None


def is_allowed(documents: Iterable[Mapping[str, Any]], check: Check) -> bool:
    """An explicit Deny wins, else any Allow, else denied."""
    return decide(documents, check) == "Allow"


def denial_message(who: str, check: Check, decision: str | None) -> str:
    """AWS's AccessDenied text, which says whether a Deny or a missing Allow refused it."""
    why = (
        "with an explicit deny in an identity-based policy"
        if decision == "Deny"
        else f"because no identity-based policy allows the {check.action} action"
    )
    return f"User: {who} is not authorized to perform: {check.action} on resource: {check.resource} {why}"


def _listed_statements(statements: Any) -> list[Mapping[str, Any]]:
    return [statements] if isinstance(statements, dict) else list(statements)


# -- resources from requests -----------------------------------------------------


def _arn(response: Any, service: str, resource: str) -> str:
    from moto.utilities.utils import get_partition

    partition = get_partition(response.region)
    return f"arn:{partition}:{service}:{response.region}:{response.current_account}:{resource}"


# Every name a SageMaker request carries is a resource AWS authorizes it on: CreateEndpoint
# and UpdateEndpoint, for instance, act on the endpoint and on the config they name.
SAGEMAKER_RESOURCES = (
    ("model", "ModelName"),
    ("endpoint-config", "EndpointConfigName"),
    ("endpoint", "EndpointName"),
)
SAGEMAKER_EXECUTION_SERVICE = "sagemaker.amazonaws.com"


def sagemaker_checks(response: Any) -> list[Check]:
    action = response._get_action()
    name = f"sagemaker:{action}"
    if action in ("AddTags", "DeleteTags", "ListTags"):
        return [Check(name, response._get_param("ResourceArn") or "*")]
    checks = [
        # SageMaker lower-cases names in its ARNs.
        Check(name, _arn(response, "sagemaker", f"{kind}/{value.lower()}"))
        for kind, param in SAGEMAKER_RESOURCES
        if isinstance(value := response._get_param(param), str) and value
    ]
    role = response._get_param("ExecutionRoleArn") if action == "CreateModel" else None
    if role:
        checks.append(Check("iam:PassRole", role, {"iam:PassedToService": SAGEMAKER_EXECUTION_SERVICE}))
    return checks or [Check(name, "*")]


RUNTIME_ACTIONS = {
    "invocations": "InvokeEndpoint",
    "async-invocations": "InvokeEndpointAsync",
    "invocations-response-stream": "InvokeEndpointWithResponseStream",
}


def invocation_check(account_id: str, region: str, endpoint_name: str, kind: str) -> Check:
    """The check AWS makes for /endpoints/<endpoint_name>/<kind>: the action on the endpoint's ARN."""
    from moto.utilities.utils import get_partition

    resource = f"arn:{get_partition(region)}:sagemaker:{region}:{account_id}:endpoint/{endpoint_name.lower()}"
    return Check(f"sagemaker:{RUNTIME_ACTIONS[kind]}", resource)


def sagemaker_runtime_checks(response: Any) -> list[Check]:
    # /endpoints/<name>/<invocations|async-invocations|invocations-response-stream>
    parts = response.path.split("?")[0].strip("/").split("/")
    if len(parts) == 3 and parts[0] == "endpoints" and parts[2] in RUNTIME_ACTIONS:
        return [invocation_check(response.current_account, response.region, parts[1], parts[2])]
    return [Check(f"sagemaker:{response._get_action()}", "*")]


def ecr_checks(response: Any) -> list[Check]:
    action = response._get_action()
    name = f"ecr:{action}"
    if action in ("ListTagsForResource", "TagResource", "UntagResource"):
        return [Check(name, response._get_param("resourceArn") or "*")]
    if action == "GetAuthorizationToken":
        return [Check(name, "*")]
    account = response._get_param("registryId") or response.current_account
    names = response._get_param("repositoryNames") or [response._get_param("repositoryName") or "*"]
    from moto.utilities.utils import get_partition

    prefix = f"arn:{get_partition(response.region)}:ecr:{response.region}:{account}:repository"
    return [Check(name, f"{prefix}/{repo}") for repo in names]


def autoscaling_checks(response: Any) -> list[Check]:
    action = response._get_action()
    name = f"application-autoscaling:{action}"
    if action.startswith("Describe"):
        return [Check(name, "*")]
    backend = response.applicationautoscaling_backend
    if action in ("ListTagsForResource", "TagResource", "UntagResource"):
        arn = response._get_param("ResourceARN") or "*"
        target = next((t for ts in backend.targets.values() for t in ts.values() if t.arn == arn), None)
    else:
        dimension = response._get_param("ScalableDimension")
        target = backend.targets.get(dimension, {}).get(response._get_param("ResourceId"))
        # A target not registered yet has no ARN: its id is generated on creation.
        arn = (
            target.arn
            if target is not None
            else _arn(response, "application-autoscaling", "scalable-target/*")
        )
    context = {}
    namespace = target.service_namespace if target is not None else response._get_param("ServiceNamespace")
    dimension = target.scalable_dimension if target is not None else response._get_param("ScalableDimension")
    if namespace:
        context["application-autoscaling:service-namespace"] = namespace
    if dimension:
        context["application-autoscaling:scalable-dimension"] = dimension
    return [Check(name, arn, context)]


def cloudwatch_checks(response: Any) -> list[Check]:
    action = response._get_action()
    # CloudWatch signs as "monitoring", but its IAM prefix is "cloudwatch".
    name = f"cloudwatch:{action}"
    if action in ("ListTagsForResource", "TagResource", "UntagResource"):
        return [Check(name, response._get_param("ResourceARN") or "*")]
    names = response._get_param("AlarmNames") or [response._get_param("AlarmName") or ""]
    names = [n for n in names if n]
    if action in ("PutMetricAlarm", "DeleteAlarms", "DescribeAlarms") and names:
        return [Check(name, _arn(response, "cloudwatch", f"alarm:{n}")) for n in names]
    return [Check(name, "*")]


# -- wiring into moto ------------------------------------------------------------


def _request_class(checks: list[Check], json_errors: bool) -> type:
    """moto's IAMRequest, but authorizing `checks` instead of the action on `*`.

    With `json_errors`, failures are the JSON errors a JSON-protocol service returns
    (moto answers them in XML, which botocore cannot read as an error code).
    """
    from moto.core.exceptions import AccessDeniedError, JsonRESTError
    from moto.iam.access_control import IAMPolicy, IAMRequest

    class ScopedIAMRequest(IAMRequest):
        def check_action_permitted(self, resource: str) -> None:
            documents = [IAMPolicy(policy)._policy_json for policy in self._access_key.collect_policies()]
            for check in checks:
                decision = decide(documents, check)
                if decision != "Allow":
                    who = self._access_key.arn
                    if json_errors:
                        raise JsonRESTError("AccessDeniedException", denial_message(who, check, decision))
                    raise AccessDeniedError(user_arn=who, action=check.action)

        def _raise_invalid_access_key(self, reason: str) -> None:
            if json_errors:
                raise JsonRESTError(
                    "UnrecognizedClientException", "The security token included in the request is invalid."
                )
            super()._raise_invalid_access_key(reason)

        def _raise_signature_does_not_match(self) -> None:
            if json_errors:
                raise JsonRESTError(
                    "InvalidSignatureException",
                    "The request signature we calculated does not match the signature you provided.",
                )
            super()._raise_signature_does_not_match()

    return ScopedIAMRequest


def _authorize_with(resolve: Callable[[Any], list[Check]], json_errors: bool) -> Callable[..., None]:
    def authorize(self: Any, resource: str = "*") -> None:
        from moto import settings
        from moto.core.authorization import ActionAuthenticatorMixin

        # Resolve only when the request will be checked; it reads the body and backends.
        if ActionAuthenticatorMixin.request_count < settings.INITIAL_NO_AUTH_ACTION_COUNT:
            ActionAuthenticatorMixin.request_count += 1
            return
        self._authenticate_and_authorize_action(_request_class(resolve(self), json_errors), resource)

    return authorize


def authorize_request(
    checks: list[Check],
    *,
    account_id: str,
    method: str,
    path: str,
    body: bytes,
    headers: Mapping[str, str],
) -> None:
    """Authenticate a signed request and authorize `checks` for its caller, as for moto's own services.

    For a request moto never sees (the local runtime's invocations). Raises moto's
    `JsonRESTError`: UnrecognizedClientException, InvalidSignatureException or
    AccessDeniedException, with the HTTP status on its `code`.
    """
    request = _request_class(checks, json_errors=True)(
        account_id=account_id,
        method=method,
        path=path,
        data={},
        body=body,
        headers=headers,
        action=checks[0].action.partition(":")[2],
    )
    request.check_signature()
    request.check_action_permitted("*")


def _scope_json_services() -> None:
    from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse
    from moto.cloudwatch.responses import CloudWatchResponse
    from moto.ecr.responses import ECRResponse
    from moto.sagemaker.responses import SageMakerResponse
    from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

    for cls, resolve, json_errors in (
        (SageMakerResponse, sagemaker_checks, True),
        (SageMakerRuntimeResponse, sagemaker_runtime_checks, True),
        (ECRResponse, ecr_checks, True),
        (ApplicationAutoScalingResponse, autoscaling_checks, True),
        # CloudWatch speaks CBOR or query; moto's own errors are kept for it.
        (CloudWatchResponse, cloudwatch_checks, False),
    ):
        cls._authenticate_and_authorize_normal_action = _authorize_with(resolve, json_errors)


def _identify_short_keys() -> None:
    """GetCallerIdentity for keys that are not 20 characters long, such as the admin's `test`.

    moto finds the caller's key with a pattern for real 20-character ids, so for `test`
    it answers with a made-up `user/moto`; the bootstrap should see the admin it runs as.
    """
    from moto.sts.responses import TokenResponse

    original = TokenResponse.get_access_key

    def get_access_key(self: Any) -> str:
        credential = re.search(r"Credential=([^/,\s]+)/", self.headers.get("Authorization", ""))
        return credential.group(1) if credential else original(self)

    TokenResponse.get_access_key = get_access_key


def _name_s3_actions() -> None:
    from moto.s3.responses import ACTION_MAP

    for method, actions in S3_BUCKET_ACTIONS.items():
        ACTION_MAP["BUCKET"][method].update(actions)


def create_admin(account_id: str | None = None) -> None:
    """The local admin as a real IAM user with the known key, so enforcement can know it.

    moto creates access keys only with random ids, so the key is made that way and then
    given the fixed id and secret, straight in the backend, before any request is served.
    """
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.iam.models import iam_backends

    backend = iam_backends[account_id or DEFAULT_ACCOUNT_ID]["aws"]
    if backend.get_user_from_access_key_id(ADMIN_ACCESS_KEY_ID) is not None:
        return
    backend.create_user(region_name="us-east-1", user_name=ADMIN_USER)
    backend.put_user_policy(ADMIN_USER, "AdministratorAccess", json.dumps(ADMIN_POLICY))
    key = backend.create_access_key(ADMIN_USER)
    backend.access_keys.pop(key.physical_resource_id, None)
    key.access_key_id = ADMIN_ACCESS_KEY_ID
    key.secret_access_key = ADMIN_SECRET_ACCESS_KEY
    backend.access_keys[key.physical_resource_id] = key


def enable() -> None:
    """Enforce IAM on every request from now on, in this process (idempotent)."""
    global _ENABLED
    if _ENABLED:
        return
    from moto import settings

    _scope_json_services()
    _identify_short_keys()
    _name_s3_actions()
    create_admin()
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    _ENABLED = True
