from pathlib import Path

import pytest

from llm_twin.errors import SettingsError
from llm_twin.settings import Secret, load_settings


def test_defaults_follow_the_book() -> None:
    s = load_settings({}, dotenv_path=None)
    assert (s.target, s.region, s.instance_type) == ("local", "eu-central-1", "ml.g5.2xlarge")
    assert (s.max_input_tokens, s.max_total_tokens, s.num_gpus) == (2048, 4096, None)
    assert s.hf_model_id == "mlabonne/TwinLlama-3.1-8B-DPO"
    assert s.endpoint == "llm-twin-endpoint"


def test_environment_overrides_dotenv(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("AWS_REGION=us-west-2\nMAX_INPUT_TOKENS=1000\n")
    s = load_settings({"AWS_REGION": "us-east-1"}, dotenv_path=dotenv)
    assert s.region == "us-east-1"
    assert s.max_input_tokens == 1000


def test_secrets_never_show_in_repr() -> None:
    s = load_settings(
        {"HF_TOKEN": "hf_supersecret", "AWS_SECRET_ACCESS_KEY": "abc123secret"}, dotenv_path=None
    )
    assert "hf_supersecret" not in repr(s)
    assert "abc123secret" not in repr(s)
    assert s.hf_token == Secret("hf_supersecret")


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"AWS_REGION": "mars-east-1"}, "AWS_REGION='mars-east-1' is invalid: expected an AWS region"),
        ({"SAGEMAKER_INSTANCE_TYPE": "g5.2xlarge"}, "starting with 'ml.'"),
        ({"MAX_INPUT_TOKENS": "4096"}, "MAX_TOTAL_TOKENS=4096 must be greater than MAX_INPUT_TOKENS=4096"),
        ({"MAX_BATCH_PREFILL_TOKENS": "100"}, "MAX_BATCH_PREFILL_TOKENS=100 must be >= MAX_INPUT_TOKENS"),
        ({"MAX_BATCH_TOTAL_TOKENS": "100"}, "MAX_BATCH_TOTAL_TOKENS=100 must be >= MAX_TOTAL_TOKENS"),
        ({"SAGEMAKER_ENDPOINT_NAME": "llm_twin endpoint"}, "SageMaker allows 1-63 letters, digits or '-'"),
        ({"SAGEMAKER_ENDPOINT_NAME": "other-endpoint"}, "must start with 'llm-twin-'"),
        ({"SAGEMAKER_ENDPOINT_NAME": "llm-twin-" + "x" * 60}, "SageMaker allows 1-63"),
        ({"TARGET": "aws"}, "TARGET=aws needs admin credentials"),
        ({"TARGET": "staging"}, "TARGET='staging' is invalid: allowed: local, aws"),
        (
            {"SAGEMAKER_INSTANCE_COUNT": "0"},
            "SAGEMAKER_INSTANCE_COUNT='0' is invalid: expected a whole number from 1",
        ),
        ({"SM_NUM_GPUS": "two"}, "SM_NUM_GPUS='two' is invalid"),
        ({"HF_MODEL_QUANTIZE": "int3"}, "allowed: (empty), awq"),
        (
            {"HEALTH_CHECK_TIMEOUT": "30"},
            "HEALTH_CHECK_TIMEOUT='30' is invalid: expected a whole number from 60 to 3600",
        ),
        (
            {"AUTOSCALING_MIN_CAPACITY": "3", "AUTOSCALING_MAX_CAPACITY": "2"},
            "AUTOSCALING_MAX_CAPACITY=2 must be >=",
        ),
        ({"AUTOSCALING_ENABLED": "maybe"}, "expected true or false"),
        ({"LLM_TWIN_PREFIX": "LLM"}, "LLM_TWIN_PREFIX='LLM' is invalid"),
        ({"HF_MODEL_ID": "has space/model"}, "HF_MODEL_ID='has space/model' is invalid"),
        ({"MODEL_DATA_S3_URI": "s3://bucket/no-slash"}, "ending in '/'"),
        ({"LOCAL_AWS_PORT": "70000"}, "LOCAL_AWS_PORT='70000' is invalid"),
    ],
)
def test_bad_settings_name_the_setting_and_what_is_allowed(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(environ, dotenv_path=None)
    assert message in str(caught.value)
    assert caught.value.exit_code == 2


def test_aws_target_accepts_a_profile_instead_of_keys() -> None:
    assert load_settings({"TARGET": "aws", "AWS_PROFILE": "admin"}, dotenv_path=None).target == "aws"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"ROLLOUT_MODE": "blue_green"},
            "ROLLOUT_MODE='blue_green' is invalid: allowed: none, all_at_once, canary, linear",
        ),
        (
            {"ROLLOUT_CANARY_PERCENT": "60"},
            "ROLLOUT_CANARY_PERCENT='60' is invalid: expected a whole number from 1 to 50",
        ),
        ({"ROLLOUT_LINEAR_STEP_PERCENT": "5"}, "from 10 to 50"),
        ({"ROLLOUT_WAIT_SECONDS": "3601"}, "from 0 to 3600"),
        ({"ALARM_LATENCY_P99_MS": "0"}, "ALARM_LATENCY_P99_MS='0' is invalid"),
        (
            {"SCALE_IN_CRON": "0 19 * * 1-5"},
            "expected cron(minutes hours day-of-month month day-of-week year)",
        ),
        ({"SCHEDULE_TIMEZONE": "Berlin"}, "expected UTC or an IANA time zone"),
        ({"SCHEDULED_SCALE_IN": "true"}, "SCHEDULED_SCALE_IN=true needs AUTOSCALING_ENABLED=true"),
        ({"ASYNC_MAX_CONCURRENT_INVOCATIONS": "0"}, "from 1 to 1000"),
    ],
)
def test_rollout_schedule_and_async_settings_are_checked(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(environ, dotenv_path=None)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_rollout_defaults_are_blue_green_with_alarms_and_no_schedule_or_async() -> None:
    s = load_settings({}, dotenv_path=None)
    assert s.rollout_mode == "all_at_once"
    assert (s.alarm_5xx_enabled, s.alarm_latency_p99_enabled, s.alarm_setup_time_enabled) == (
        True,
        True,
        True,
    )
    assert (s.scheduled_scale_in, s.async_inference_enabled) == (False, False)
