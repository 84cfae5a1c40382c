"""IAM enforcement in the embedded local AWS, against the resource ARNs AWS itself checks.

moto's "IAM-like access control" (its `INITIAL_NO_AUTH_ACTION_COUNT`) checks S3, IAM
and EC2 requests against their resources, but every JSON-protocol call (SageMaker,
ECR, Application Auto Scaling, CloudWatch) against resource `*`. An ARN-scoped
statement such as `sagemaker:...:model/llm-twin-*` then matches nothing, so a narrow
identity is denied even what it is allowed, and a test proves nothing. This module:

- switches moto's enforcement on, and makes the local admin (`test`/`test`) a real IAM
  user with an allow-all policy, created through the backend before any request;
- authorizes those services' actions against the real ARN built from the request
  (model, endpoint-config, endpoint, repository, scalable target, alarm), with only
  the condition keys AWS's table lists for that action (`authz_checks`, `iam_context`);
- checks `iam:PassRole` when CreateModel passes an ExecutionRoleArn, as AWS does;
- lends the same checks to the local runtime (`authorize_request`), which answers
  InvokeEndpoint[WithResponseStream] before moto sees them;
- names S3 requests with their real IAM actions, where moto invents or omits them.

Not checked: moto's S3 falls back to s3:ListBucket / s3:CreateBucket for any bucket
sub-resource it does not name (see `S3_BUCKET_ACTIONS`); the admin is forgotten by
moto's reset API like everything else.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import unquote

from llm_twin_local.aws import knobs
from llm_twin_local.aws.authz_checks import (
    autoscaling_checks,
    cloudwatch_checks,
    ecr_checks,
    invocation_check,
    sagemaker_checks,
    sagemaker_runtime_checks,
)
from llm_twin_local.aws.iam_policy import Check, decide, denial_message, is_allowed
from llm_twin_local.aws.registry import PATCHES

if TYPE_CHECKING:
    from botocore.awsrequest import AWSRequest
    from moto.core.responses import BaseResponse
    from moto.iam.access_control import IAMRequest, IAMRequestBase

Response = TypeVar("Response", bound="BaseResponse")

__all__ = ["Check", "decide", "denial_message", "enable", "enabled", "invocation_check", "is_allowed"]

ENFORCE_ENV = "LOCAL_AWS_ENFORCE_IAM"
ADMIN_USER = "local-admin"
# The key the CLI and tests already use for the local admin (llm_twin.control.deploy.deployment.LOCAL_ADMIN).
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
ENFORCEMENT_PATCH = "iam.enforcement"
AUTHORIZE_NORMAL_ACTION = "_authenticate_and_authorize_normal_action"
"""moto's per-request authorization hook of its non-S3 services."""


def enforcement_requested(environ: Mapping[str, str] | None = None) -> bool:
    """True when LOCAL_AWS_ENFORCE_IAM is set to a true value (read when asked)."""
    return knobs.switch(os.environ if environ is None else environ, ENFORCE_ENV)


def apply_if_requested() -> None:
    """The hook for `patches.apply_all()`: enforce IAM only when the environment asks."""
    if enforcement_requested():
        enable()


def enabled() -> bool:
    """True once `enable()` ran in this process: every request must then be authorized."""
    return PATCHES.applied(ENFORCEMENT_PATCH)


# -- wiring into moto ------------------------------------------------------------


def _request_class(checks: list[Check], json_errors: bool) -> type[IAMRequest]:
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


def _authorize_with(
    resolve: Callable[[Response], list[Check]], json_errors: bool
) -> Callable[[Response, str], None]:
    def authorize(self: Response, resource: str = "*") -> None:
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
        # moto types the headers a dict but only reads them; the runtime passes werkzeug's EnvironHeaders.
        headers=headers,  # type: ignore[arg-type]
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

    # Each class gets its own authorizer, set by name: moto declares the method on a shared base.
    for cls, authorize in (
        (SageMakerResponse, _authorize_with(sagemaker_checks, json_errors=True)),
        (SageMakerRuntimeResponse, _authorize_with(sagemaker_runtime_checks, json_errors=True)),
        (ECRResponse, _authorize_with(ecr_checks, json_errors=True)),
        (ApplicationAutoScalingResponse, _authorize_with(autoscaling_checks, json_errors=True)),
        # CloudWatch speaks CBOR or query; moto's own errors are kept for it.
        (CloudWatchResponse, _authorize_with(cloudwatch_checks, json_errors=False)),
    ):
        setattr(cls, AUTHORIZE_NORMAL_ACTION, authorize)


def _identify_short_keys() -> None:
    """GetCallerIdentity for keys that are not 20 characters long, such as the admin's `test`.

    moto finds the caller's key with a pattern for real 20-character ids, so for `test`
    it answers with a made-up `user/moto`; the bootstrap should see the admin it runs as.
    """
    from moto.sts.responses import TokenResponse

    original = TokenResponse.get_access_key

    def get_access_key(self: BaseResponse) -> str:
        credential = re.search(r"Credential=([^/,\s]+)/", self.headers.get("Authorization", ""))
        return credential.group(1) if credential else original(self)

    TokenResponse.get_access_key = get_access_key


def canonical_query(query: str) -> list[tuple[str, str]]:
    """The query's parameters as the client signed them: each name and value decoded once.

    SigV4 signs each parameter URI-encoded by RFC 3986 (`prefix=env%3A%2F`). The server
    hands moto a URL whose query it re-quoted more loosely (`prefix=env:/`), and moto
    signs that text as it stands, so every S3 listing under a prefix with '/' or ':'
    (Terraform's S3 backend lists `env:/` at init) failed with SignatureDoesNotMatch.
    Decoded pairs go to botocore as params, which it encodes exactly as the client did.
    """
    pairs = []
    for pair in query.split("&") if query else ():
        name, _, value = pair.partition("=")
        pairs.append((unquote(name), unquote(value)))
    return pairs


def _sign_the_query_as_the_client_did() -> None:
    from moto.iam.access_control import IAMRequestBase

    original = IAMRequestBase._create_aws_request

    def create_aws_request(self: IAMRequestBase) -> AWSRequest:
        request = original(self)
        path, _, query = request.url.partition("?")
        if query:
            request.url = path
            request.params = canonical_query(query)
        return request

    IAMRequestBase._create_aws_request = create_aws_request


def _name_s3_actions() -> None:
    from moto.s3.responses import ACTION_MAP

    for method, actions in S3_BUCKET_ACTIONS.items():
        ACTION_MAP["BUCKET"][method].update(actions)


def create_admin(account_id: str | None = None) -> None:
    """The local admin as a real IAM user with the known key, so enforcement can know it.

    moto creates access keys only with random ids, so the key is made that way and then
    given the fixed id and secret, straight in the backend, before any request is served.
    """
    from moto.core.models import DEFAULT_ACCOUNT_ID
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


@PATCHES.once(ENFORCEMENT_PATCH, by_default=False)
def enable() -> None:
    """Enforce IAM on every request from now on, in this process."""
    from moto import settings

    _scope_json_services()
    _sign_the_query_as_the_client_did()
    _identify_short_keys()
    _name_s3_actions()
    create_admin()
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
