"""Terraform's own checks: fmt, validate, and its variable validation as a usage error."""

from pathlib import Path

import pytest

from llm_twin.control import tfvars
from llm_twin.control.deploy.deployment import LOCAL_ADMIN, Deployment
from llm_twin.control.tf.runner import Terraform, TerraformConfig
from llm_twin.errors import SettingsError
from tests.conftest import REPO, settings_for, stack_environ

MODULES = ["iam", "ecr", "s3", "sagemaker_endpoint", "names"]


def test_every_module_has_the_four_files() -> None:
    for module in MODULES:
        files = sorted(p.name for p in (REPO / "terraform" / "modules" / module).glob("*.tf"))
        assert {"main.tf", "variables.tf", "outputs.tf", "versions.tf"} <= set(files), module


def test_fmt_is_clean(tmp_path: Path) -> None:
    terraform = Terraform(TerraformConfig(working_dir=REPO / "terraform", data_dir=tmp_path))
    assert terraform.fmt_check(recursive=True) == []


def test_both_stacks_validate(tmp_path: Path) -> None:
    deployment = Deployment(settings_for(stack_environ(tmp_path, 1)))
    results = dict(deployment.validate())
    assert results["bootstrap"].valid, results["bootstrap"].diagnostics
    assert results["main"].valid, results["main"].diagnostics


@pytest.mark.parametrize(
    ("endpoint_change", "message"),
    [
        (
            {"instance_type": "g5.2xlarge"},
            "instance_type must be a SageMaker instance type starting with 'ml.'",
        ),
        ({"max_total_tokens": 1000}, "token_limits.max_total_tokens must be greater than max_input_tokens"),
        ({"instance_count": 0}, "endpoint.instance_count must be a whole number from 1 to 100"),
        ({"quantize": "int3"}, "quantize must be null or one of"),
    ],
)
def test_terraform_variable_validation_is_a_usage_error(
    fresh_env: dict[str, str], endpoint_change: dict, message: str
) -> None:
    deployment = Deployment(settings_for(fresh_env))
    deployment.ensure_local()  # module variables are checked after the provider is configured
    variables = tfvars.main_vars(
        deployment.settings,
        {
            "execution_role_arn": "arn:aws:iam::123456789012:role/r",
            "artifact_bucket_name": "llm-twin-artifacts",
        },
    )
    variables["endpoint"].update(endpoint_change)
    terraform = deployment._terraform("main", LOCAL_ADMIN)
    with pytest.raises(SettingsError, match="terraform rejected a setting") as caught:
        deployment._plan(terraform, deployment.main_paths, variables)
    assert message in str(caught.value)
    assert caught.value.exit_code == 2
    assert not deployment.main_paths.state.exists()


@pytest.mark.parametrize(
    ("section", "change", "message"),
    [
        (
            "rollout",
            {"mode": "canary", "canary_percent": 60},
            "rollout.canary_percent must be a whole number from 1 to 50",
        ),
        (
            "scheduled_scaling",
            {"timezone": "Berlin"},
            "scheduled_scaling.timezone must be UTC or an IANA time zone",
        ),
    ],
)
def test_rollout_and_schedule_validation_is_a_usage_error(
    fresh_env: dict[str, str], section: str, change: dict, message: str
) -> None:
    """Terraform's own checks, for callers that bypass the settings (a hand-written tfvars)."""
    deployment = Deployment(settings_for(fresh_env))
    deployment.ensure_local()
    variables = tfvars.main_vars(
        deployment.settings,
        {
            "execution_role_arn": "arn:aws:iam::123456789012:role/r",
            "artifact_bucket_name": "llm-twin-artifacts",
        },
    )
    variables[section].update(change)
    terraform = deployment._terraform("main", LOCAL_ADMIN)
    with pytest.raises(SettingsError, match="terraform rejected a setting") as caught:
        deployment._plan(terraform, deployment.main_paths, variables)
    assert message in str(caught.value)
    assert not deployment.main_paths.state.exists()
