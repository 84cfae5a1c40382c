"""Bucket policies with `aws:SecureTransport` conditions, evaluated as the emulator's transport is.

moto 5.2.1 evaluates only `StringEquals` conditions and skips every other operator as if
it held, so the standard TLS-only statement (Deny s3:* when `Bool aws:SecureTransport`
is "false") denies every object request to a bucket that carries it: on the local
target, nothing could read or write the artifact or state bucket through S3's API.

The emulator listens on loopback only, so no request to it crosses a network; it counts
as secure transport here (`aws:SecureTransport` = "true"). A statement conditioned on
that key applies only when its condition holds for "true", exactly as AWS evaluates it
for an HTTPS request; every other statement is left to moto unchanged.
"""

from __future__ import annotations

import json
from typing import Any

from moto.iam.access_control import IAMPolicy, PermissionResult
from moto.s3 import models as s3_models

from llm_twin_local.aws.registry import PATCHES

SECURE_TRANSPORT = "aws:SecureTransport"
EMULATOR_TRANSPORT_IS_SECURE = "true"


def _condition_holds(operator: str, expected: object, actual: str) -> bool:
    """`Bool` (and its IfExists form) against the request's value, as IAM compares it."""
    values = expected if isinstance(expected, list) else [expected]
    return operator.startswith("Bool") and any(str(v).lower() == actual for v in values)


def effective_statements(statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The statements that apply to an emulator request, with the transport condition resolved."""
    applying = []
    for statement in statements:
        conditions = dict(statement.get("Condition") or {})
        holds = True
        for operator, tests in list(conditions.items()):
            if isinstance(tests, dict) and SECURE_TRANSPORT in tests:
                holds = holds and _condition_holds(
                    operator, tests[SECURE_TRANSPORT], EMULATOR_TRANSPORT_IS_SECURE
                )
                rest = {k: v for k, v in tests.items() if k != SECURE_TRANSPORT}
                if rest:
                    conditions[operator] = rest
                else:
                    del conditions[operator]
        if not holds:
            continue
        resolved = {k: v for k, v in statement.items() if k != "Condition"}
        if conditions:
            resolved["Condition"] = conditions
        applying.append(resolved)
    return applying


@PATCHES.once("s3.secure_transport")
def apply() -> None:
    """Evaluate bucket policies' transport conditions."""

    def get_permission(self: s3_models.FakeBucket, action: str, resource: str) -> PermissionResult:
        if self.policy is None:
            return PermissionResult.NEUTRAL
        document = json.loads(self.policy)
        statements = document.get("Statement") or []
        if isinstance(statements, dict):
            statements = [statements]
        applying = effective_statements(statements)
        if not applying:
            return PermissionResult.NEUTRAL
        return IAMPolicy(json.dumps({**document, "Statement": applying})).is_action_permitted(
            action, resource
        )

    s3_models.FakeBucket.get_permission = get_permission
