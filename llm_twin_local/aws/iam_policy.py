"""IAM's identity-policy evaluation for the emulator's ARN-scoped checks.

A `Check` is one authorization AWS makes for a request: an action, the ARN it acts
on, and the condition keys AWS supplies for it (see `iam_context`). `decide` applies
IAM's rule to a principal's policies: an explicit Deny wins, else any Allow, else deny.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


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
