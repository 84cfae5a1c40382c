"""The pure checks on typed inputs: each failure named, with its fix."""

from __future__ import annotations

import pytest

from llm_twin.config import Settings, build_settings
from llm_twin.config.tokens import TOKEN_RULES
from llm_twin.control.preflight import checks as preflight
from llm_twin.control.preflight.checks import IdentityLookup, QuotaLookup
from tests.support.preflight import LLAMA_8B, LLAMA_70B, QUOTA_CODE_G5_2XL, inputs


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"tokens.max_input_tokens": 4096, "tokens.max_total_tokens": 4096},
            "MAX_TOTAL_TOKENS=4096 must be greater than MAX_INPUT_TOKENS=4096",
        ),
        (
            {"tokens.max_batch_prefill_tokens": 1024},
            "MAX_BATCH_PREFILL_TOKENS=1024 must be >= MAX_INPUT_TOKENS=2048",
        ),
        (
            {"tokens.max_batch_total_tokens": 2048},
            "MAX_BATCH_TOTAL_TOKENS=2048 must be >= MAX_TOTAL_TOKENS=4096",
        ),
        (
            {"tokens.max_total_tokens": 200_000},
            "MAX_TOTAL_TOKENS=200000 > the model's max_position_embeddings=131072",
        ),
    ],
)
def test_each_token_limit_rule_fails_by_name(changes: dict, message: str) -> None:
    # Settings are built directly: load_settings already refuses the first three.
    check = preflight.check_token_limits(inputs(build_settings(changes), LLAMA_8B))
    assert check.status == "FAIL" and message in check.detail


def test_token_limits_are_the_settings_rules_with_their_fixes() -> None:
    """Preflight keeps no rule of its own: every rule of config.tokens fails it, with that rule's fix."""
    broken = build_settings(
        {
            "tokens.max_input_tokens": 4096,
            "tokens.max_total_tokens": 4096,
            "tokens.max_batch_prefill_tokens": 1024,
            "tokens.max_batch_total_tokens": 2048,
        }
    )
    check = preflight.check_token_limits(inputs(broken))
    assert check.status == "FAIL"
    assert check.detail == "; ".join(rule.message(broken.tokens) for rule in TOKEN_RULES)
    assert check.fix == "; ".join(rule.fix(broken.tokens) for rule in TOKEN_RULES)


def test_token_limits_within_the_rules_and_the_context_pass() -> None:
    check = preflight.check_token_limits(inputs(Settings(), LLAMA_8B))
    assert check.status == "OK" and "max_position_embeddings=131072" in check.detail


def test_sm_num_gpus_derived_matched_or_refused() -> None:
    derived = preflight.check_num_gpus(inputs(build_settings({"variant.instance_type": "ml.g5.12xlarge"})))
    assert derived.status == "OK" and "derived 4" in derived.detail
    too_many = preflight.check_num_gpus(inputs(build_settings({"variant.num_gpus": 4})))
    assert too_many.status == "FAIL" and "SM_NUM_GPUS=1" in too_many.fix
    idle = preflight.check_num_gpus(
        inputs(build_settings({"variant.instance_type": "ml.g5.12xlarge", "variant.num_gpus": 2}))
    )
    assert idle.status == "WARN"


def test_a_denied_quota_lookup_warns() -> None:
    denied = QuotaLookup(code=QUOTA_CODE_G5_2XL, name="q", error="AccessDeniedException", denied=True)
    check = preflight.check_quota(inputs(Settings(), quota=denied))
    assert check.status == "WARN" and "servicequotas:GetServiceQuota" in check.fix


def test_quota_below_autoscaling_max_fails_with_the_request_command() -> None:
    settings = build_settings({"autoscaling.enabled": True, "autoscaling.max_capacity": 3})
    check = preflight.check_quota(inputs(settings))
    assert check.status == "FAIL" and "AUTOSCALING_MAX_CAPACITY needs 3" in check.detail
    assert f"--quota-code {QUOTA_CODE_G5_2XL} --desired-value 3" in check.fix


def test_health_timeout_covers_download_and_load_of_a_hub_model() -> None:
    settings = build_settings(
        {"variant.instance_type": "ml.p4d.24xlarge", "variant.health_check_timeout": 900}
    )
    check = preflight.check_health_timeout(inputs(settings, LLAMA_70B, is_hub_model=True))
    # 141 GB at 50 MB/s + 200 MB/s: about 3530 s.
    assert check.status == "FAIL" and "50 MB/s from the Hub" in check.detail
    ok = preflight.check_health_timeout(inputs(Settings(), LLAMA_8B, is_hub_model=True))
    assert ok.status == "OK"


def test_an_image_from_another_region_fails() -> None:
    uri = "763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-tgi-inference:x"
    assert preflight.check_image(inputs(build_settings({"model.image_uri": uri}))).status == "FAIL"
    assert preflight.check_image(inputs(Settings())).status == "OK"


def test_a_quota_without_room_for_an_update_warns() -> None:
    check = preflight.check_quota(inputs(build_settings({"variant.instance_count": 2})))  # quota 2
    assert check.status == "WARN" and "needs 4" in check.detail
    assert "--desired-value 4" in check.fix


def test_refused_credentials_fail_and_skip_the_quota() -> None:
    refused = inputs(Settings(), identity=IdentityLookup(error="InvalidClientTokenId"))
    assert preflight.check_identity(refused).status == "FAIL"
    assert preflight.check_quota(refused).status == "SKIP"
