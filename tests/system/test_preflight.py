"""Preflight: the pure checks on typed inputs, then `llm-twin preflight` against the emulator.

The CLI tests share one emulator (quotas are set through its admin route and put back);
each failure of the issue is caught on the local target: quota 0, a model too big for the
instance, bad token limits, a gated model without a token. The apply gate is checked on
TARGET=aws with boto3 sent to the emulator by AWS_ENDPOINT_URL, so no AWS is touched.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from llm_twin.cli.main import main
from llm_twin.config import Settings, build_settings
from llm_twin.control.preflight import checks as preflight
from llm_twin.control.preflight.checks import (
    HubLookup,
    IdentityLookup,
    ModelLookup,
    PreflightInputs,
    QuotaLookup,
    model_facts,
)
from llm_twin_local.aws.daemon import LocalAws, free_port
from llm_twin_local.aws.quotas import DEFAULT_ENDPOINT_QUOTA, set_endpoint_quota
from tests.conftest import client, private_target

LLAMA_70B = {
    "architectures": ["LlamaForCausalLM"],
    "hidden_size": 8192,
    "num_hidden_layers": 80,
    "num_attention_heads": 64,
    "num_key_value_heads": 8,
    "intermediate_size": 28672,
    "vocab_size": 128256,
    "max_position_embeddings": 131072,
    "torch_dtype": "bfloat16",
    "tie_word_embeddings": False,
}
LLAMA_8B = {**LLAMA_70B, "hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32}
LLAMA_8B["intermediate_size"] = 14336
# make-test-model's tiny checkpoint, as transformers 5 writes it ("dtype", not "torch_dtype").
TINY = {
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 4,
    "head_dim": 16,
    "intermediate_size": 176,
    "vocab_size": 946,
    "max_position_embeddings": 2048,
    "dtype": "float32",
}
TINY_LIMITS = {"MAX_INPUT_TOKENS": "512", "MAX_TOTAL_TOKENS": "1024", "MAX_BATCH_PREFILL_TOKENS": "512"}
QUOTA_CODE_G5_2XL = "L-9614C779"


def inputs(settings: Settings, config: dict | None = None, **changes) -> PreflightInputs:
    facts = model_facts(config, source="test config") if config else None
    base = PreflightInputs(
        settings=settings,
        identity=IdentityLookup(account="123456789012", arn="arn:aws:iam::123456789012:user/deployer"),
        quota=QuotaLookup(code=QUOTA_CODE_G5_2XL, name="ml.g5.2xlarge for endpoint usage", value=2),
        model=ModelLookup(facts=facts),
        hub=HubLookup(),
        is_hub_model=False,
    )
    return dataclasses.replace(base, **changes)


# -- pure units ------------------------------------------------------------------------------------


def test_parameters_and_kv_bytes_come_from_the_config() -> None:
    facts = model_facts(LLAMA_70B, source="x")
    assert facts.parameter_count == 70_553_706_496  # Llama 3 70B: 70.55B
    assert facts.kv_bytes_per_token == 80 * 8 * 128 * 2 * 2
    assert facts.checkpoint_bytes == facts.parameter_count * 2


def test_the_index_total_size_wins_over_the_estimate() -> None:
    facts = model_facts(LLAMA_8B, source="x", index_total_size=16_060_522_496)
    assert facts.parameter_count == 8_030_261_248
    assert facts.checkpoint_bytes == 16_060_522_496


def test_a_config_without_shapes_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="num_hidden_layers"):
        model_facts({"hidden_size": 8, "num_attention_heads": 2}, source="x")


def test_8b_on_g5_2xlarge_fits_with_the_book_limits() -> None:
    fit, kv = preflight.check_fit(inputs(Settings(), LLAMA_8B))
    assert (fit.status, kv.status) == ("OK", "OK")
    assert "1.0 GiB" in kv.detail  # 8192 tokens x 128 KiB


def test_kv_cache_above_90_percent_warns_and_past_the_memory_fails() -> None:
    warn = preflight.check_fit(inputs(build_settings({"tokens.max_batch_total_tokens": 60000}), LLAMA_8B))[1]
    assert warn.status == "WARN" and "MAX_BATCH_TOTAL_TOKENS <=" in warn.fix
    fail = preflight.check_fit(inputs(build_settings({"tokens.max_batch_total_tokens": 80000}), LLAMA_8B))[1]
    assert fail.status == "FAIL" and "MAX_BATCH_TOTAL_TOKENS <=" in fail.fix


def test_70b_fits_on_p4d_but_not_g5() -> None:
    assert preflight.check_fit(inputs(Settings(), LLAMA_70B))[0].status == "FAIL"
    fit, _ = preflight.check_fit(
        inputs(build_settings({"variant.instance_type": "ml.p4d.24xlarge"}), LLAMA_70B)
    )
    assert fit.status == "OK" and "8 x NVIDIA A100 40GB" in fit.detail


def test_quantization_shrinks_the_weights() -> None:
    settings = build_settings({"variant.instance_type": "ml.g6e.12xlarge", "model.quantize": "awq"})
    fit, _ = preflight.check_fit(inputs(settings, LLAMA_70B))
    assert fit.status == "OK" and "x 0.5 B (awq)" in fit.detail


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"tokens.max_input_tokens": 4096, "tokens.max_total_tokens": 4096},
            "MAX_INPUT_TOKENS=4096 is not < MAX_TOTAL_TOKENS",
        ),
        ({"tokens.max_batch_prefill_tokens": 1024}, "MAX_BATCH_PREFILL_TOKENS=1024 < MAX_INPUT_TOKENS=2048"),
        (
            {"tokens.max_total_tokens": 200_000},
            "MAX_TOTAL_TOKENS=200000 > the model's max_position_embeddings=131072",
        ),
    ],
)
def test_each_token_limit_rule_fails_by_name(changes: dict, message: str) -> None:
    # Settings are built directly: load_settings already refuses the first two.
    check = preflight.check_token_limits(inputs(build_settings(changes), LLAMA_8B))
    assert check.status == "FAIL" and message in check.detail


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


# -- `llm-twin preflight` on the local target --------------------------------------------------------


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """One emulator for the module; a closed port stands in for an unreachable Hub."""
    state = tmp_path_factory.mktemp("preflight") / "state"
    with private_target(state, HF_ENDPOINT=f"http://127.0.0.1:{free_port()}", **TINY_LIMITS) as env:
        LocalAws(state, int(env["LOCAL_AWS_PORT"])).up()
        yield env


def checkpoint(tmp_path: Path, config: dict) -> str:
    directory = tmp_path / "model"
    directory.mkdir()
    (directory / "config.json").write_text(json.dumps(config))
    return str(directory)


def run(tmp_path: Path, env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, ["--env-file", str(tmp_path / "none.env"), *args], env=env)


def rows(result: Result) -> dict[str, str]:
    """Check name -> status, from the --json output."""
    return {c["name"]: c["status"] for c in json.loads(result.stdout.split("\nPreflightFailedError")[0])}


def test_a_good_local_checkpoint_passes(tmp_path: Path, emulator: dict[str, str]) -> None:
    result = run(tmp_path, {**emulator, "HF_MODEL_ID": checkpoint(tmp_path, TINY)}, "preflight")
    assert result.exit_code == 0, result.output
    assert "FAIL" not in result.output
    assert "OK    credentials" in result.output and "account 123456789012 in eu-central-1" in result.output
    assert f"'ml.g5.2xlarge for endpoint usage' ({QUOTA_CODE_G5_2XL}) is 8" in result.output
    assert f"from local checkpoint {tmp_path / 'model'}" in result.output
    assert "derived 1 from ml.g5.2xlarge" in result.output


def test_quota_zero_fails_with_code_and_request(tmp_path: Path, emulator: dict[str, str]) -> None:
    url = f"http://127.0.0.1:{emulator['LOCAL_AWS_PORT']}"
    set_endpoint_quota(url, "ml.g5.2xlarge", 0)
    try:
        result = run(tmp_path, {**emulator, "HF_MODEL_ID": checkpoint(tmp_path, TINY)}, "preflight")
    finally:
        set_endpoint_quota(url, "ml.g5.2xlarge", DEFAULT_ENDPOINT_QUOTA)
    assert result.exit_code == 1
    assert "FAIL  quota" in result.output and "is 0, but SAGEMAKER_INSTANCE_COUNT needs 1" in result.output
    assert (
        f"request-service-quota-increase --service-code sagemaker --quota-code {QUOTA_CODE_G5_2XL}"
        in result.output
    )
    assert "PreflightFailedError: quota failed" in result.output


def test_a_70b_model_is_too_big_for_g5_2xlarge(tmp_path: Path, emulator: dict[str, str]) -> None:
    result = run(
        tmp_path, {**emulator, "HF_MODEL_ID": checkpoint(tmp_path, LLAMA_70B)}, "preflight", "--json"
    )
    assert result.exit_code == 1
    assert rows(result)["fit"] == "FAIL"
    assert rows(result)["kv cache"] == "SKIP"


def test_limits_past_the_model_context_fail(tmp_path: Path, emulator: dict[str, str]) -> None:
    env = {**emulator, "HF_MODEL_ID": checkpoint(tmp_path, TINY), "MAX_INPUT_TOKENS": "2048"}
    env.update(MAX_TOTAL_TOKENS="4096", MAX_BATCH_PREFILL_TOKENS="2048")
    result = run(tmp_path, env, "preflight")
    assert result.exit_code == 1
    assert "MAX_TOTAL_TOKENS=4096 > the model's max_position_embeddings=2048" in result.output
    assert "fix: set MAX_TOTAL_TOKENS <= 2048" in result.output


def test_a_hub_model_without_token_warns_and_says_what_was_skipped(
    tmp_path: Path, emulator: dict[str, str]
) -> None:
    result = run(tmp_path, emulator, "preflight")
    assert result.exit_code == 0, result.output
    assert "WARN  gated model" in result.output and "HF_TOKEN is empty" in result.output
    assert "SKIP  fit" in result.output and "did not answer" in result.output
    assert "stand-in tiny model" in result.output


def test_config_is_read_from_the_model_data_prefix(tmp_path: Path, emulator: dict[str, str]) -> None:
    s3 = client(emulator["LOCAL_AWS_PORT"], "s3")
    s3.create_bucket(
        Bucket="llm-twin-preflight", CreateBucketConfiguration={"LocationConstraint": "eu-central-1"}
    )
    s3.put_object(
        Bucket="llm-twin-preflight", Key="models/big/1/config.json", Body=json.dumps(LLAMA_70B).encode()
    )
    env = {**emulator, "MODEL_DATA_S3_URI": "s3://llm-twin-preflight/models/big/1/"}
    result = run(tmp_path, env, "preflight", "--json")
    assert result.exit_code == 1
    statuses = rows(result)
    assert statuses["fit"] == "FAIL" and statuses["gated model"] == "OK"
    assert "from s3://llm-twin-preflight/models/big/1/" in result.output


def test_apply_on_aws_stops_at_a_failed_preflight(tmp_path: Path, emulator: dict[str, str]) -> None:
    url = f"http://127.0.0.1:{emulator['LOCAL_AWS_PORT']}"
    env = {
        **emulator,
        "TARGET": "aws",
        "AWS_ENDPOINT_URL": url,  # boto3 sends every client to the emulator
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "SAGEMAKER_USER_CREDENTIALS": str(tmp_path / "none.json"),
        "PRICING_SOURCE": "table",
        "HF_MODEL_ID": checkpoint(tmp_path, LLAMA_70B),
    }
    stopped = run(tmp_path, env, "apply")
    assert stopped.exit_code == 1
    assert "FAIL  fit" in stopped.output and "PreflightFailedError: fit failed" in stopped.output
    assert not (Path(emulator["LLM_TWIN_STATE_DIR"]) / "aws").exists()  # terraform never ran
    skipped = run(tmp_path, env, "apply", "--skip-preflight")
    assert "preflight for" not in skipped.output


def test_a_quota_without_room_for_an_update_warns() -> None:
    check = preflight.check_quota(inputs(build_settings({"variant.instance_count": 2})))  # quota 2
    assert check.status == "WARN" and "needs 4" in check.detail
    assert "--desired-value 4" in check.fix


def test_refused_credentials_fail_and_skip_the_quota() -> None:
    refused = inputs(Settings(), identity=IdentityLookup(error="InvalidClientTokenId"))
    assert preflight.check_identity(refused).status == "FAIL"
    assert preflight.check_quota(refused).status == "SKIP"
