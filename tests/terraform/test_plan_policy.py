"""Policy checks on the saved plans (`terraform show -json`), before anything exists.

Both stacks, for both targets' variable sets (see conftest.py). These complement
tests/system/test_deploy.py, which reads the same properties back from an applied stack.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from llm_twin.control import tfvars
from tests.terraform.conftest import STACKS, TARGETS, Plans, managed_resources

pytestmark = pytest.mark.parametrize("target", TARGETS)

# "svc:*" grants every action of one service.
SERVICE_WIDE = re.compile(r"^[a-z0-9-]+:\*$")


def _resources(plans: Plans, target: str) -> list[dict[str, Any]]:
    return [r for stack in STACKS for r in managed_resources(plans.shown[(target, stack)])]


def _one(resources: list[dict[str, Any]], resource_type: str) -> dict[str, Any]:
    found = [r for r in resources if r["type"] == resource_type]
    assert len(found) == 1, f"expected one {resource_type}, planned: {[r['address'] for r in found]}"
    return found[0]["values"]


def _as_list(value: Any) -> list[Any]:
    return [value] if isinstance(value, str) else list(value or ())


def _policy_documents(resources: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """address → every IAM document whose JSON the plan already knows.

    ECR lifecycle rules are a `policy` too: IAM documents are those with statements.
    """
    documents = {}
    for resource in resources:
        values = resource.get("values", {})
        for attribute in ("policy", "assume_role_policy"):
            if isinstance(values.get(attribute), str) and values[attribute]:
                document = json.loads(values[attribute])
                if "Statement" in document:
                    documents[f"{resource['address']}.{attribute}"] = document
    return documents


def _allow_statements(plans: Plans, target: str) -> list[tuple[str, dict[str, Any]]]:
    documents = _policy_documents(_resources(plans, target))
    # The deployer's and the execution role's policies and the trust policy must be known at
    # plan time, or the checks below would pass on nothing.
    assert {
        "module.iam.aws_iam_policy.deployer.policy",
        "module.iam.aws_iam_policy.execution.policy",
        "module.iam.aws_iam_role.execution.assume_role_policy",
    } <= set(documents)
    return [
        (address, statement)
        for address, document in documents.items()
        for statement in _as_list(document["Statement"])
        if statement["Effect"] == "Allow"
    ]


def test_every_taggable_resource_carries_the_project_tags(plans: Plans, target: str) -> None:
    expected = tfvars.tags(plans.settings[target])
    taggable = [
        r
        for r in _resources(plans, target)
        if "tags" in plans.resource_schemas[r["type"]]["block"].get("attributes", {})
    ]
    untagged = [
        r["address"]
        for r in taggable
        if not expected.items() <= ((r.get("values") or {}).get("tags") or {}).items()
    ]
    assert untagged == [], f"taggable resources without the project tags {expected}"
    kinds = {r["type"] for r in taggable}
    assert {
        "aws_iam_role",
        "aws_iam_user",
        "aws_s3_bucket",
        "aws_ecr_repository",
        "aws_sagemaker_endpoint",
    } <= kinds


def test_no_allow_statement_grants_every_action_or_a_whole_service(plans: Plans, target: str) -> None:
    # Allow only: the bucket's TLS-only policy denies `s3:*` over plain HTTP, as it should.
    too_broad = [
        (address, statement.get("Sid"), action)
        for address, statement in _allow_statements(plans, target)
        for action in _as_list(statement.get("Action"))
        if action == "*" or SERVICE_WIDE.match(action)
    ]
    assert too_broad == []
    not_action = [(a, s.get("Sid")) for a, s in _allow_statements(plans, target) if "NotAction" in s]
    assert not_action == [], "NotAction allows everything it does not name"


def test_pass_role_names_only_the_execution_role(plans: Plans, target: str) -> None:
    passing = [
        statement
        for _, statement in _allow_statements(plans, target)
        if "iam:PassRole" in _as_list(statement.get("Action"))
    ]
    assert len(passing) == 1
    assert _as_list(passing[0]["Resource"]) == [plans.execution_role_arn(target)]
    assert passing[0]["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}


def test_bucket_is_encrypted_versioned_and_blocks_public_access(plans: Plans, target: str) -> None:
    resources = _resources(plans, target)
    encryption = _one(resources, "aws_s3_bucket_server_side_encryption_configuration")
    default = encryption["rule"][0]["apply_server_side_encryption_by_default"][0]
    assert default["sse_algorithm"] in {"AES256", "aws:kms"}
    versioning = _one(resources, "aws_s3_bucket_versioning")
    assert versioning["versioning_configuration"][0]["status"] == "Enabled"
    block = _one(resources, "aws_s3_bucket_public_access_block")
    assert [block[k] for k in ("block_public_acls", "block_public_policy")] == [True, True]
    assert [block[k] for k in ("ignore_public_acls", "restrict_public_buckets")] == [True, True]
    ownership = _one(resources, "aws_s3_bucket_ownership_controls")
    assert ownership["rule"][0]["object_ownership"] == "BucketOwnerEnforced"
    # The bucket's id is unknown until it exists: the configuration shows they all name it.
    s3 = plans.shown[(target, "main")]["configuration"]["root_module"]["module_calls"]["s3"]["module"]
    companions = {
        r["type"]: r["expressions"]["bucket"]["references"]
        for r in s3["resources"]
        if r["mode"] == "managed" and r["type"] != "aws_s3_bucket"
    }
    for kind in (
        "aws_s3_bucket_server_side_encryption_configuration",
        "aws_s3_bucket_versioning",
        "aws_s3_bucket_public_access_block",
    ):
        assert "aws_s3_bucket.this" in companions[kind], kind


def test_endpoint_config_sets_the_startup_timeouts_on_the_variant(plans: Plans, target: str) -> None:
    settings = plans.settings[target]
    config = _one(_resources(plans, target), "aws_sagemaker_endpoint_configuration")
    variant = config["production_variants"][0]
    assert (
        variant["container_startup_health_check_timeout_in_seconds"] == settings.variant.health_check_timeout
    )
    assert variant["model_data_download_timeout_in_seconds"] == settings.variant.download_timeout
    model = _one(_resources(plans, target), "aws_sagemaker_model")
    environment = model["primary_container"][0]["environment"]
    assert not [k for k in environment if "TIMEOUT" in k.upper()], "timeouts in the container env do nothing"
