import re
from pathlib import Path

import boto3
import botocore.exceptions
import botocore.session
import pytest
from hypothesis import given
from hypothesis import strategies as st

from llm_twin.config import Secret, load_settings
from llm_twin.config.loader import ACCOUNT_PLACEHOLDER
from llm_twin.control.state import backend as state_backend
from llm_twin.errors import SettingsError
from tests.conftest import REPO


def test_defaults_follow_the_book() -> None:
    s = load_settings({}, dotenv_path=None)
    assert (s.target, s.region, s.variant.instance_type) == ("local", "eu-central-1", "ml.g5.2xlarge")
    assert (s.tokens.max_input_tokens, s.tokens.max_total_tokens, s.variant.num_gpus) == (2048, 4096, None)
    assert s.model.hf_model_id == "mlabonne/TwinLlama-3.1-8B-DPO"
    assert s.names.endpoint == "llm-twin-endpoint"


def test_environment_overrides_dotenv(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("AWS_REGION=us-west-2\nMAX_INPUT_TOKENS=1000\n")
    s = load_settings({"AWS_REGION": "us-east-1"}, dotenv_path=dotenv)
    assert s.region == "us-east-1"
    assert s.tokens.max_input_tokens == 1000


def test_secrets_never_show_in_repr() -> None:
    s = load_settings(
        {"HF_TOKEN": "hf_supersecret", "AWS_SECRET_ACCESS_KEY": "abc123secret"}, dotenv_path=None
    )
    assert "hf_supersecret" not in repr(s)
    assert "abc123secret" not in repr(s)
    assert s.model.hf_token == Secret("hf_supersecret")


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


def test_aws_target_accepts_a_profile_instead_of_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config"
    config.write_text("[profile admin]\nregion = eu-central-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    assert load_settings({"TARGET": "aws", "AWS_PROFILE": "admin"}, dotenv_path=None).target == "aws"


def test_a_missing_profile_is_named_as_boto3_would_refuse_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """boto3 itself is the referee: what we refuse, a boto3 Session refuses with ProfileNotFound."""
    (tmp_path / "config").write_text("[profile admin]\n")
    (tmp_path / "credentials").write_text("[ci]\naws_access_key_id = x\naws_secret_access_key = y\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    for known in ("admin", "ci"):
        boto3.Session(profile_name=known)
        assert load_settings({"TARGET": "aws", "AWS_PROFILE": known}, dotenv_path=None).admin.profile == known
    for missing in ("nosuch", "default"):
        with pytest.raises(botocore.exceptions.ProfileNotFound):
            boto3.Session(profile_name=missing)
        with pytest.raises(SettingsError) as caught:
            load_settings({"TARGET": "aws", "AWS_PROFILE": missing}, dotenv_path=None)
        assert str(caught.value) == (
            f"AWS_PROFILE={missing!r} is invalid: no such profile in the AWS config files "
            "(profiles there: admin, ci)"
        )


# A trailing newline passes `re.match(r"^...$")`; every pattern must match the whole value.
TRAILING_NEWLINE = [
    "LLM_TWIN_PREFIX",
    "SAGEMAKER_ENDPOINT_NAME",
    "HF_MODEL_ID",
    "TGI_VERSION",
    "TGI_IMAGE_URI",
    "SAGEMAKER_INSTANCE_TYPE",
    "SCALE_IN_CRON",
    "SCALE_OUT_CRON",
    "MODEL_DATA_S3_URI",
    "STATE_BUCKET",
    "AWS_REGION",
]
GOOD = {
    "LLM_TWIN_PREFIX": "llm-twin",
    "SAGEMAKER_ENDPOINT_NAME": "llm-twin-endpoint",
    "HF_MODEL_ID": "mlabonne/TwinLlama-3.1-8B-DPO",
    "TGI_VERSION": "3.3.6",
    "TGI_IMAGE_URI": "123456789012.dkr.ecr.eu-central-1.amazonaws.com/tgi:3.3.6",
    "SAGEMAKER_INSTANCE_TYPE": "ml.g5.2xlarge",
    "SCALE_IN_CRON": "cron(0 19 ? * MON-FRI *)",
    "SCALE_OUT_CRON": "cron(0 7 ? * MON-FRI *)",
    "MODEL_DATA_S3_URI": "s3://llm-twin-models/twin/v1/",
    "STATE_BUCKET": "llm-twin-state",
    "AWS_REGION": "eu-central-1",
}


@pytest.mark.parametrize("name", TRAILING_NEWLINE)
def test_a_trailing_newline_is_refused_where_the_value_itself_is_accepted(name: str) -> None:
    assert load_settings({name: GOOD[name]}, dotenv_path=None)
    with pytest.raises(SettingsError) as caught:
        load_settings({name: GOOD[name] + "\n"}, dotenv_path=None)
    assert str(caught.value).startswith(f"{name}={GOOD[name] + chr(10)!r} is invalid: ")


# Amazon S3 User Guide, "General purpose bucket naming rules" and its examples.
S3_VALID = [
    "docexamplebucket1",
    "log-delivery-march-2020",
    "my-hosted-content",
    "docexamplewebsite.com",
    "a1b",
]
S3_INVALID = [
    "doc_example_bucket",  # underscores
    "DocExampleBucket",  # uppercase
    "doc-example-bucket-",  # ends with a hyphen
    "ab",  # too short
    "a" * 64,  # too long
    "example..com",  # adjacent periods
    "192.168.5.4",  # formatted as an IP address
    "xn--example",  # reserved prefix
    "sthree-example",
    "sthree-configurator-x",
    "amzn-s3-demo-bucket",
    "example-s3alias",  # reserved suffixes
    "example--ol-s3",
    "example.mrap",
    "example--usw2-az1--x-s3",
    "example--table-s3",
]


@pytest.mark.parametrize("name", S3_VALID)
def test_state_bucket_accepts_what_s3_documents_as_valid(name: str) -> None:
    assert load_settings({"STATE_BUCKET": name}, dotenv_path=None).state.bucket == name


@pytest.mark.parametrize("name", S3_INVALID)
def test_state_bucket_refuses_what_s3_documents_as_invalid(name: str) -> None:
    with pytest.raises(SettingsError, match=r"^STATE_BUCKET="):
        load_settings({"STATE_BUCKET": name}, dotenv_path=None)


@pytest.mark.parametrize("prefix", ["xn--twin", "sthree-twin", "amzn-s3-demo-x"])
def test_a_prefix_that_begins_a_reserved_bucket_name_is_refused(prefix: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"LLM_TWIN_PREFIX": prefix, "SAGEMAKER_ENDPOINT_NAME": f"{prefix}-e"}, dotenv_path=None)
    assert str(caught.value).startswith(f"LLM_TWIN_PREFIX={prefix!r} is invalid: it begins the bucket name ")


def test_the_bucket_names_the_prefix_begins_are_the_ones_the_stacks_make() -> None:
    """The check builds the names itself; they must be the state bucket's and the artifact bucket's."""
    settings = load_settings({}, dotenv_path=None)
    assert (
        state_backend.state_bucket_name(settings, ACCOUNT_PLACEHOLDER)
        == f"llm-twin-tfstate-{ACCOUNT_PLACEHOLDER}"
    )
    terraform = "\n".join(path.read_text() for path in (REPO / "terraform").rglob("*.tf"))
    artifact = r'"\$\{var\.name_prefix\}-artifacts-\$\{[a-z_.]*account_id\}-\$\{var\.region\}"'
    assert re.search(artifact, terraform), (
        "the artifact bucket is no longer <prefix>-artifacts-<account>-<region>"
    )


# EventBridge's "Cron expressions reference" (Application Auto Scaling points to it): its examples.
AWS_CRON_EXAMPLES = [
    "cron(0 10 * * ? *)",
    "cron(15 12 * * ? *)",
    "cron(0 18 ? * MON-FRI *)",
    "cron(0 8 1 * ? *)",
    "cron(0/15 * * * ? *)",
    "cron(0/10 * ? * MON-FRI *)",
    "cron(0/5 8-17 ? * MON-FRI *)",
    "cron(0 9 ? * 2#1 *)",
    "cron(30 6 ? * MON *)",
    "cron(0 0 ? * 6L *)",
    "cron(0 0 15W * ? *)",
    "cron(0 0 L * ? *)",
    "cron(30 14 10,20 * ? 2026-2030)",
    "cron(0/5 0-1,3-23 * * ? *)",
    "cron(0 0 1 JAN,JUL ? *)",
]
CRON_OUT_OF_RANGE = [
    "cron(60 7 ? * MON-FRI *)",  # minutes 0-59
    "cron(0 24 ? * MON-FRI *)",  # hours 0-23
    "cron(0 7 0 * ? *)",  # day-of-month 1-31
    "cron(0 7 32 * ? *)",
    "cron(0 7 ? 0 MON *)",  # month 1-12
    "cron(0 7 ? 13 MON *)",
    "cron(0 7 ? FOO MON *)",
    "cron(0 7 ? * 8 *)",  # day-of-week 1-7
    "cron(0 7 ? * 0 *)",
    "cron(0 7 ? * MON#6 *)",
    "cron(0 7 ? * MON-FRI 1969)",  # year 1970-2199
    "cron(0 7 ? * MON-FRI 2200)",
    "cron(0 7 * * MON-FRI *)",  # both day fields
    "cron(0 7 ? * ? *)",  # neither day field
    "cron(0 7 1W ? * *)",  # W is day-of-month only, # day-of-week only
    "cron(0 7 1#2 * ? *)",
    "cron(0/0 7 ? * MON *)",  # a step of 0
    "cron(0 7 ? * MON/2 *)",  # no / in day-of-week
    "cron(0 7 ? * MON-FRI)",  # five fields
    "0 7 ? * MON-FRI *",  # not wrapped in cron()
]


@pytest.mark.parametrize("cron", AWS_CRON_EXAMPLES)
def test_crons_from_the_aws_documentation_are_accepted(cron: str) -> None:
    environ = {"AUTOSCALING_ENABLED": "true", "SCHEDULED_SCALE_IN": "true", "SCALE_IN_CRON": cron}
    assert load_settings(environ, dotenv_path=None).schedule.scale_in_cron == cron


@pytest.mark.parametrize("cron", CRON_OUT_OF_RANGE)
def test_cron_fields_out_of_range_are_refused(cron: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"SCALE_OUT_CRON": cron}, dotenv_path=None)
    assert str(caught.value).startswith(f"SCALE_OUT_CRON={cron!r} is invalid: ")
    assert "\n" not in str(caught.value)


# huggingface_hub's own docstring examples of validate_repo_id.
HUB_VALID = ["foo", "foo/bar", "123", "Foo-BAR_foo.bar123", "mlabonne/TwinLlama-3.1-8B-DPO"]
HUB_INVALID = ["datasets/foo/bar", ".repo_id", "foo--bar", "foo.git", "other..repo..id", "a/" + "b" * 97]


@pytest.mark.parametrize("repo_id", HUB_VALID + HUB_INVALID)
def test_hf_model_id_agrees_with_huggingface_hub(repo_id: str) -> None:
    validators = pytest.importorskip("huggingface_hub.utils")
    try:
        validators.validate_repo_id(repo_id)
        hub_accepts = True
    except validators.HFValidationError:
        hub_accepts = False
    try:
        load_settings({"HF_MODEL_ID": repo_id}, dotenv_path=None)
        we_accept = True
    except SettingsError:
        we_accept = False
    assert (we_accept, hub_accepts) == (repo_id in HUB_VALID, repo_id in HUB_VALID)


@given(st.text(alphabet="ab_.-/", min_size=1, max_size=12))
def test_every_hub_id_we_accept_huggingface_hub_accepts(repo_id: str) -> None:
    validators = pytest.importorskip("huggingface_hub.utils")
    try:
        load_settings({"HF_MODEL_ID": repo_id}, dotenv_path=None)
    except SettingsError:
        return
    if not repo_id.startswith("/"):
        validators.validate_repo_id(repo_id)


@given(st.text(alphabet=st.characters(codec="ascii"), max_size=140))
def test_every_access_key_id_we_accept_matches_iam_s_own_shape(key_id: str) -> None:
    """botocore's IAM model: accessKeyIdType is [\\w]+ and at most 128 characters."""
    shape = botocore.session.get_session().get_service_model("iam").shape_for("accessKeyIdType")
    try:
        value = load_settings({"AWS_ACCESS_KEY_ID": key_id}, dotenv_path=None).admin.access_key_id.value
    except SettingsError:
        return
    if value:
        assert re.fullmatch(shape.metadata["pattern"], value, re.ASCII)
        assert len(value) <= shape.metadata["max"]


@pytest.mark.parametrize("raw", ["inf", "-inf", "nan", "infinity", "1e308", "1e999", "1_0", "0x10", "", " "])
def test_numbers_are_finite_plain_and_bounded(raw: str) -> None:
    for name in ("AUTOSCALING_TARGET_INVOCATIONS", "MODEL_STORAGE_GB", "COST_MONTHLY_BUDGET_USD"):
        if raw.strip() == "":
            continue  # empty means the default
        with pytest.raises(SettingsError, match=rf"^{name}="):
            load_settings({name: raw}, dotenv_path=None)


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
    assert s.rollout.mode == "all_at_once"
    assert (s.alarms.errors_5xx_enabled, s.alarms.latency_p99_enabled, s.alarms.setup_time_enabled) == (
        True,
        True,
        True,
    )
    assert (s.schedule.enabled, s.async_inference.enabled) == (False, False)
