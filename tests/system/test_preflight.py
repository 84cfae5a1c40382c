"""`llm-twin preflight` against the emulator (the pure checks are in tests/unit/llm_twin/control/preflight/).

The CLI tests share one emulator (quotas are set through its admin route and put back);
each failure of the issue is caught on the local target: quota 0, a model too big for the
instance, bad token limits, a gated model without a token. The apply gate is checked on
TARGET=aws with boto3 sent to the emulator by AWS_ENDPOINT_URL, so no AWS is touched.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from llm_twin.cli.main import main
from llm_twin_local.aws.daemon import LocalAws, free_port
from llm_twin_local.aws.quotas import DEFAULT_ENDPOINT_QUOTA, set_endpoint_quota
from tests.conftest import client, private_target
from tests.support.preflight import LLAMA_70B, QUOTA_CODE_G5_2XL

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
