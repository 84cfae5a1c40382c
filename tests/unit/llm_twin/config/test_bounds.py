"""Every number a setting sends to Terraform has the same bounds in Python and in variables.tf.

The settings own the bounds (`SPEC`); terraform/variables.tf repeats them as validation
blocks, so a value that skips the Python checks still stops before AWS. Real Terraform
judges the root module's variables.tf on its own (no provider, no state): the lowest and
highest values the settings accept must pass, one step beyond either bound must fail.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest

from llm_twin.config import Settings
from llm_twin.config.spec import SPEC
from llm_twin.config.values import BoundedNumber, WholeNumber
from llm_twin.control import tfvars
from tests.conftest import REPO

pytestmark = pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not on PATH")

# setting -> (root variable, attribute) it reaches through llm_twin/control/tfvars.py
TERRAFORM_NUMBERS = {
    "SAGEMAKER_INSTANCE_COUNT": ("endpoint", "instance_count"),
    "SM_NUM_GPUS": ("endpoint", "num_gpus"),
    "MAX_INPUT_TOKENS": ("endpoint", "max_input_tokens"),
    "MAX_TOTAL_TOKENS": ("endpoint", "max_total_tokens"),
    "MAX_BATCH_TOTAL_TOKENS": ("endpoint", "max_batch_total_tokens"),
    "MAX_BATCH_PREFILL_TOKENS": ("endpoint", "max_batch_prefill_tokens"),
    "VLLM_MAX_NUM_SEQS": ("endpoint", "vllm_max_num_seqs"),
    "VLLM_GPU_MEMORY_UTILIZATION": ("endpoint", "vllm_gpu_memory_utilization"),
    "HEALTH_CHECK_TIMEOUT": ("endpoint", "container_startup_health_check_timeout_in_seconds"),
    "MODEL_DOWNLOAD_TIMEOUT": ("endpoint", "model_data_download_timeout_in_seconds"),
    "AUTOSCALING_MIN_CAPACITY": ("autoscaling", "min_capacity"),
    "AUTOSCALING_MAX_CAPACITY": ("autoscaling", "max_capacity"),
    "AUTOSCALING_TARGET_INVOCATIONS": ("autoscaling", "target_invocations_per_instance"),
    "AUTOSCALING_SCALE_IN_COOLDOWN": ("autoscaling", "scale_in_cooldown"),
    "AUTOSCALING_SCALE_OUT_COOLDOWN": ("autoscaling", "scale_out_cooldown"),
    "ROLLOUT_CANARY_PERCENT": ("rollout", "canary_percent"),
    "ROLLOUT_LINEAR_STEP_PERCENT": ("rollout", "linear_step_percent"),
    "ROLLOUT_WAIT_SECONDS": ("rollout", "wait_interval_in_seconds"),
    "ROLLOUT_TERMINATION_WAIT_SECONDS": ("rollout", "termination_wait_in_seconds"),
    "ALARM_5XX_THRESHOLD": ("alarms", "invocation_5xx_threshold"),
    "ALARM_LATENCY_P99_MS": ("alarms", "latency_p99_threshold_ms"),
    "ALARM_SETUP_TIME_SECONDS": ("alarms", "setup_time_threshold_seconds"),
    "ASYNC_MAX_CONCURRENT_INVOCATIONS": ("async_inference", "max_concurrent_invocations_per_instance"),
}
# Numbers that never reach Terraform: the emulator's port, the gateway, the cost estimate.
LOCAL_ONLY = ("LOCAL_AWS_", "GATEWAY_", "COST_", "MODEL_STORAGE_GB")
# Everything else as the CLI renders the default settings: the root keeps no defaults of its own.
REQUIRED = tfvars.main_vars(
    Settings(),
    {
        "execution_role_arn": "arn:aws:iam::123456789012:role/llm-twin-sagemaker-execution",
        "artifact_bucket_name": "llm-twin-artifacts-123456789012-eu-central-1",
    },
)


def _bounds(name: str) -> tuple[float, float, float, float]:
    """The lowest and highest accepted values, and the nearest refused ones beyond them."""
    rule = SPEC[name][1]
    if isinstance(rule, WholeNumber):
        return rule.lo, rule.hi, rule.lo - 1, rule.hi + 1
    assert isinstance(rule, BoundedNumber)
    lowest = rule.lo + 0.001 if rule.lo_open else rule.lo
    return lowest, rule.hi, rule.lo if rule.lo_open else rule.lo - 0.001, rule.hi + 0.001


def _variables(values: dict[str, float]) -> dict[str, Any]:
    variables: dict[str, Any] = json.loads(json.dumps(REQUIRED))
    for name, value in values.items():
        variable, attribute = TERRAFORM_NUMBERS[name]
        variables.setdefault(variable, {})[attribute] = value
    return variables


@pytest.fixture(scope="module")
def judge(tmp_path_factory: pytest.TempPathFactory):
    """Real Terraform on the root module's variables.tf alone: its validation messages, or '' when valid."""
    module = tmp_path_factory.mktemp("root-variables")
    shutil.copy(REPO / "terraform" / "variables.tf", module / "variables.tf")

    def run(values: dict[str, float]) -> str:
        (module / "values.tfvars.json").write_text(json.dumps(_variables(values)))
        result = subprocess.run(
            ["terraform", "plan", "-input=false", "-no-color", "-var-file=values.tfvars.json"],
            cwd=module,
            capture_output=True,
            text=True,
            env={"PATH": "/usr/local/bin:/usr/bin:/bin", "TF_IN_AUTOMATION": "1", "HOME": str(module)},
            timeout=120,
        )
        assert result.returncode in (0, 1), result.stderr
        return "" if result.returncode == 0 else result.stderr

    return run


def test_every_number_that_reaches_terraform_is_listed() -> None:
    numbers = {n for n, (_, rule) in SPEC.items() if isinstance(rule, WholeNumber | BoundedNumber)}
    assert numbers - {n for n in numbers if n.startswith(LOCAL_ONLY)} == set(TERRAFORM_NUMBERS)


def test_terraform_accepts_the_lowest_and_highest_values_the_settings_accept(judge) -> None:
    assert judge({name: _bounds(name)[0] for name in TERRAFORM_NUMBERS}) == ""
    assert judge({name: _bounds(name)[1] for name in TERRAFORM_NUMBERS}) == ""


@pytest.mark.parametrize("side", ["below", "above"])
def test_terraform_refuses_each_value_the_settings_refuse(judge, side: str) -> None:
    """One run per side, every value out of range: each attribute's own validation must fire."""
    index = 2 if side == "below" else 3
    errors = judge({name: _bounds(name)[index] for name in TERRAFORM_NUMBERS})
    missed = {
        name: f"{variable}.{attribute}"
        for name, (variable, attribute) in TERRAFORM_NUMBERS.items()
        if f"{variable}.{attribute} must be" not in errors
    }
    assert missed == {}, errors
