"""The dated GPU table, SM_NUM_GPUS derived from it, and the value rendered for Terraform."""

from __future__ import annotations

from llm_twin.config import build_settings, load_settings
from llm_twin.control import tfvars
from llm_twin.protocol import gpus

BOOTSTRAP_OUTPUTS = {"execution_role_arn": "arn:aws:iam::123456789012:role/r", "artifact_bucket_name": "b"}


def test_every_family_of_the_issue_is_in_the_table() -> None:
    families = {row.instance_type.split(".")[1] for row in gpus.GPU_TABLE.values()}
    assert {"g5", "g6", "g6e", "p4d", "p5", "inf2"} <= families
    row = gpus.gpus_of("ml.g5.12xlarge")
    assert row is not None and (row.gpu_count, row.gpu_memory_gib, row.accelerator) == (4, 24, "NVIDIA A10G")
    assert gpus.gpus_of("ml.p4d.24xlarge").total_memory_gib == 320  # type: ignore[union-attr]
    assert gpus.gpus_of("ml.m5.xlarge") is None


def test_sm_num_gpus_is_derived_only_when_unset() -> None:
    assert gpus.sm_num_gpus("ml.g6e.48xlarge", None) == 8
    assert gpus.sm_num_gpus("ml.inf2.48xlarge", None) == 8  # 12 chips, capped to the variable's range
    assert gpus.sm_num_gpus("ml.g6e.48xlarge", 2) == 2
    assert gpus.sm_num_gpus("ml.m5.xlarge", None) == 1


def test_unset_renders_the_derived_value_and_a_setting_wins() -> None:
    derived = load_settings(
        {"SAGEMAKER_INSTANCE_TYPE": "ml.g5.12xlarge", "SM_NUM_GPUS": ""}, dotenv_path=None
    )
    assert derived.variant.num_gpus is None
    assert tfvars.main_vars(derived, BOOTSTRAP_OUTPUTS)["endpoint"]["num_gpus"] == 4
    explicit = build_settings({"variant.instance_type": "ml.g5.12xlarge", "variant.num_gpus": 2})
    assert tfvars.main_vars(explicit, BOOTSTRAP_OUTPUTS)["endpoint"]["num_gpus"] == 2


def test_the_smallest_fitting_instance_is_suggested() -> None:
    assert gpus.smallest_fitting(20).instance_type == "ml.g5.xlarge"  # type: ignore[union-attr]
    assert gpus.smallest_fitting(150).total_memory_gib == 192  # type: ignore[union-attr]
    assert gpus.smallest_fitting(5000) is None
