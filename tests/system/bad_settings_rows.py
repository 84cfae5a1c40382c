"""Hostile values for every setting in `.env.example`, each with the exact line it must produce.

Most lines have the one shape `SettingsError: NAME='value' is invalid: <what is allowed>`,
so a row names the setting, the value and the allowed text; rows whose line differs
(secrets, rules between settings) spell out the whole line. `{tmp}` in a value or a line
is the test's scratch directory, which holds `a-file` (a regular file) and `empty-dir`.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SettingRow:
    """One hostile value: the setting it is for, and the one line on stderr it must produce."""

    setting: str
    value: str
    line: str
    command: tuple[str, ...] = ("apply",)
    env: dict[str, str] = field(default_factory=dict)
    """Other settings the row needs, e.g. TARGET=aws."""
    dotenv: bool = False
    """The value comes from the `.env` file instead of the environment."""

    @property
    def id(self) -> str:
        return f"{self.setting}={self.value!r}" + (" in .env" if self.dotenv else "")


def bad(setting: str, value: str, allowed: str, *command: str, **options: object) -> SettingRow:
    """A row whose line is the common shape."""
    line = f"SettingsError: {setting}={value!r} is invalid: {allowed}"
    return SettingRow(setting, value, line, command or ("apply",), **options)  # type: ignore[arg-type]


def secret(setting: str, value: str, allowed: str, *command: str) -> SettingRow:
    """A secret's line never holds its value."""
    line = f"SettingsError: {setting} is invalid: {allowed} (the value is not shown)"
    return SettingRow(setting, value, line, command or ("apply",))


BOOL = "expected true or false"
REGION = "expected an AWS region with SageMaker hosting, e.g. eu-central-1 or us-east-1"
PREFIX = (
    "expected 3-24 lowercase letters, digits or '-', starting with a letter and ending with a letter or digit"
)
ENDPOINT = "SageMaker allows 1-63 letters, digits or '-', starting and ending with a letter or digit"
MODEL_ID = (
    "expected a Hub repo id like owner/name (letters, digits, '-', '_' or '.', at most 96 each, "
    "no '--' or '..') or an absolute path, without spaces"
)
IMAGE = "expected empty or an image reference repo:tag, without spaces"
REVISION = (
    "expected a 40-hex commit sha, or a branch or tag name (letters, digits, '.', '_', '-', '/'; "
    "no '..', '//', '/.', and no '/', '.' or '.lock' at the end), or empty for the default branch"
)
INSTANCE = "expected a SageMaker instance type starting with 'ml.', e.g. ml.g5.2xlarge"
S3_PREFIX = "expected empty or an S3 prefix ending in '/', e.g. s3://bucket/models/twin/v1/"
CRON = "expected cron(minutes hours day-of-month month day-of-week year), e.g. cron(0 19 ? * MON-FRI *)"
KEY_ID = "expected up to 128 letters, digits or '_'"
PRINTABLE = "expected printable ASCII characters without spaces"
ORIGINS = (
    "is not an origin: expected comma-separated scheme://host[:port] without a path, "
    "e.g. http://localhost:3000, or * alone"
)
GATEWAY_TOKEN = (
    "SettingsError: GATEWAY_TOKEN is invalid: expected 16-512 printable ASCII characters without spaces "
    "(e.g. the output of `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
)
HOST = "expected an IP address such as 127.0.0.1 or 0.0.0.0, or a host name"
AWS = {
    "TARGET": "aws",
    "AWS_ACCESS_KEY_ID": "AKIAEXAMPLEEXAMPLE00",
    "AWS_SECRET_ACCESS_KEY": "not-a-real-key",
}


def whole(lo: int, hi: int) -> str:
    return f"expected a whole number from {lo} to {hi}"


def cron_field(name: str, text: str, values: str, wildcards: str) -> str:
    return f"the {name} field {text!r} is not allowed: values {values}, wildcards {wildcards}"


SETTING_ROWS = [
    bad("TARGET", "gcp", "allowed: local, aws"),
    bad("TARGET", "aws local", "allowed: local, aws", "destroy"),
    SettingRow(
        "TARGET",
        "aws",
        "SettingsError: TARGET=aws needs admin credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
        "(or AWS_PROFILE) in .env or the environment",
    ),
    bad("AWS_REGION", "moon-1", REGION),
    bad("AWS_REGION", "eu-central-1\n", REGION, "destroy"),
    secret("AWS_ACCESS_KEY_ID", "AKIA EXAMPLE", KEY_ID),
    secret("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE\nX-Amz-Security-Token: x", KEY_ID, "plan"),
    secret("AWS_ACCESS_KEY_ID", "x" * 129, KEY_ID),
    secret("AWS_SECRET_ACCESS_KEY", "has space", PRINTABLE),
    secret("AWS_SECRET_ACCESS_KEY", "line\nbreak", PRINTABLE, "cost"),
    secret("AWS_SESSION_TOKEN", "tab\there", PRINTABLE),
    secret("AWS_SESSION_TOKEN", "tök", PRINTABLE),
    SettingRow(
        "AWS_PROFILE",
        "nosuch",
        "SettingsError: AWS_PROFILE='nosuch' is invalid: no such profile in the AWS config files "
        "(profiles there: admin)",
        env=AWS,
    ),
    SettingRow(
        "AWS_PROFILE",
        "admin\n[profile evil]",
        "SettingsError: AWS_PROFILE='admin\\n[profile evil]' is invalid: no such profile in the AWS "
        "config files (profiles there: admin)",
        ("bootstrap",),
    ),
    bad("LLM_TWIN_PREFIX", "LLM", PREFIX),
    bad("LLM_TWIN_PREFIX", "llm-twin\n", PREFIX),
    bad("LLM_TWIN_PREFIX", "llm-twin-", PREFIX, "render"),
    SettingRow(
        "LLM_TWIN_PREFIX",
        "xn--twin",
        "SettingsError: LLM_TWIN_PREFIX='xn--twin' is invalid: it begins the bucket name "
        "'xn--twin-tfstate-<account>', and S3 reserves bucket names starting with 'xn--'",
    ),
    SettingRow(
        "LLM_TWIN_PREFIX",
        "sthree-twin",
        "SettingsError: LLM_TWIN_PREFIX='sthree-twin' is invalid: it begins the bucket name "
        "'sthree-twin-tfstate-<account>', and S3 reserves bucket names starting with 'sthree-'",
        ("bootstrap-state",),
    ),
    bad("SAGEMAKER_ENDPOINT_NAME", "llm_twin endpoint", ENDPOINT),
    bad("SAGEMAKER_ENDPOINT_NAME", "llm-twin-endpoint\n", ENDPOINT, "status"),
    SettingRow(
        "SAGEMAKER_ENDPOINT_NAME",
        "other-endpoint",
        "SettingsError: SAGEMAKER_ENDPOINT_NAME='other-endpoint' must start with 'llm-twin-' "
        "(LLM_TWIN_PREFIX): the deployer may only touch names with that prefix",
    ),
    bad("HF_MODEL_ID", "owner/has space", MODEL_ID),
    bad("HF_MODEL_ID", "owner/name\n", MODEL_ID),
    bad("HF_MODEL_ID", "owner/..", MODEL_ID, "plan"),
    bad("HF_MODEL_ID", "owner--x/name", MODEL_ID),
    secret("HF_TOKEN", "hf_abc def", PRINTABLE),
    secret("HF_TOKEN", "hf_abc\ndef", PRINTABLE, "plan"),
    bad("HF_MODEL_REVISION", "main..dev", REVISION),
    bad("HF_MODEL_REVISION", "v1 ", REVISION, "plan"),
    bad("HF_MODEL_REVISION", "refs/pr/1/", REVISION, "plan"),
    bad("HF_MODEL_REVISION", "v1.lock", REVISION),
    SettingRow(
        "TGI_VERSION",
        "9.9.9",
        "SettingsError: TGI_VERSION='9.9.9' is not in the DLC catalogue; allowed: 0.6.0, 0.8.2, 0.9.3, "
        "1.0.3, 1.1.0, 1.2.0, 1.3.1, 1.3.3, 1.4.0, 1.4.2, 1.4.5, 2.0.0, 2.0.1, 2.0.2, 2.2.0, 2.3.1, "
        "2.4.0, 3.0.1, 3.1.1, 3.2.0, 3.2.3, 3.3.4, 3.3.6 (or a major.minor alias)",
    ),
    bad("TGI_VERSION", "3.3.6\n", "expected a version like 3.3.6"),
    bad("TGI_VERSION", "３.３.６", "expected a version like 3.3.6"),
    bad("TGI_IMAGE_URI", "repo:tag\n", IMAGE),
    bad("TGI_IMAGE_URI", "has space:tag", IMAGE),
    bad("TGI_IMAGE_URI", "no-tag", IMAGE),
    bad("SERVING_BACKEND", "sglang", "allowed: tgi, vllm"),
    bad("SERVING_BACKEND", "VLLM", "allowed: tgi, vllm", "plan"),
    SettingRow(
        "SERVING_BACKEND",
        "vllm",
        "SettingsError: MESSAGES_API_ENABLED='true' does not apply to SERVING_BACKEND=vllm: only the tgi "
        "container reads it; remove it, or set SERVING_BACKEND=tgi",
        env={"MESSAGES_API_ENABLED": "true"},
    ),
    SettingRow(
        "VLLM_VERSION",
        "9.9.9",
        "SettingsError: VLLM_VERSION='9.9.9' is not in the huggingface-vllm DLC catalogue; allowed: "
        "0.14.0, 0.17.0, 0.21.0, 0.22.1, 0.25.1, 0.26.0, 0.27.1, 0.28.0, 0.29.0 (or a major.minor alias)",
        env={"SERVING_BACKEND": "vllm"},
    ),
    SettingRow(
        "VLLM_VERSION",
        "0.28.0",
        "SettingsError: VLLM_VERSION='0.28.0' does not apply to SERVING_BACKEND=tgi: only the vllm "
        "container reads it; remove it, or set SERVING_BACKEND=vllm",
    ),
    bad("VLLM_VERSION", "0.29.0\n", "expected a version like 0.29.0", env={"SERVING_BACKEND": "vllm"}),
    bad("VLLM_IMAGE_URI", "no-tag", IMAGE, env={"SERVING_BACKEND": "vllm"}),
    bad("VLLM_IMAGE_URI", "has space:tag", IMAGE, "plan"),
    bad("VLLM_GPU_MEMORY_UTILIZATION", "0", "expected a number > 0 and at most 1"),
    bad("VLLM_GPU_MEMORY_UTILIZATION", "90%", "expected a number > 0 and at most 1", "plan"),
    bad("VLLM_GPU_MEMORY_UTILIZATION", "nan", "expected a number > 0 and at most 1"),
    bad("VLLM_MAX_NUM_SEQS", "0", whole(1, 2048)),
    bad("VLLM_MAX_NUM_SEQS", "4096", whole(1, 2048), env={"SERVING_BACKEND": "vllm"}),
    SettingRow(
        "VLLM_MAX_NUM_SEQS",
        "64",
        "SettingsError: VLLM_MAX_NUM_SEQS='64' does not apply to SERVING_BACKEND=tgi: only the vllm "
        "container reads it; remove it, or set SERVING_BACKEND=vllm",
        ("cost",),
    ),
    bad("MODEL_DATA_S3_URI", "s3://bucket/models", S3_PREFIX),
    bad("MODEL_DATA_S3_URI", "s3://bucket/models/\n", S3_PREFIX),
    bad("MODEL_DATA_S3_URI", "s3://a..b/models/", "an S3 bucket name has no two adjacent periods"),
    bad(
        "MODEL_DATA_S3_URI",
        "s3://192.168.5.4/models/",
        "an S3 bucket name must not be formatted as an IP address",
    ),
    bad(
        "HF_MODEL_QUANTIZE",
        "int4",
        "allowed: (empty), awq, eetq, exl2, gptq, marlin, bitsandbytes, "
        "bitsandbytes-nf4, bitsandbytes-fp4, fp8",
    ),
    bad(
        "HF_MODEL_QUANTIZE",
        "awq gptq",
        "allowed: (empty), awq, eetq, exl2, gptq, marlin, bitsandbytes, "
        "bitsandbytes-nf4, bitsandbytes-fp4, fp8",
    ),
    bad("MESSAGES_API_ENABLED", "maybe", BOOL, dotenv=True),
    bad("MESSAGES_API_ENABLED", "2", BOOL),
    bad("SAGEMAKER_INSTANCE_TYPE", "g5.2xlarge", INSTANCE),
    bad("SAGEMAKER_INSTANCE_TYPE", "ml.g5.2xlarge\n", INSTANCE, "cost"),
    bad("SAGEMAKER_INSTANCE_COUNT", "two", whole(1, 100)),
    bad("SAGEMAKER_INSTANCE_COUNT", "1000000", whole(1, 100), "cost"),
    bad("SAGEMAKER_INSTANCE_COUNT", "١", whole(1, 100)),
    bad("SAGEMAKER_INSTANCE_COUNT", "1e3", whole(1, 100)),
    bad("SAGEMAKER_INSTANCE_COUNT", "9" * 5000, whole(1, 100)),
    bad("SM_NUM_GPUS", "9", whole(1, 8) + " or empty"),
    bad("SM_NUM_GPUS", "two", whole(1, 8) + " or empty"),
    bad("MAX_INPUT_TOKENS", "0", whole(1, 16777216)),
    bad("MAX_INPUT_TOKENS", "1_000", whole(1, 16777216)),
    bad("MAX_INPUT_TOKENS", "99999999999", whole(1, 16777216)),
    SettingRow(
        "MAX_TOTAL_TOKENS",
        "1024",
        "SettingsError: MAX_TOTAL_TOKENS=1024 must be greater than MAX_INPUT_TOKENS=2048",
    ),
    bad("MAX_TOTAL_TOKENS", "1e308", whole(2, 16777216)),
    SettingRow(
        "MAX_BATCH_TOTAL_TOKENS",
        "4000",
        "SettingsError: MAX_BATCH_TOTAL_TOKENS=4000 must be >= MAX_TOTAL_TOKENS=4096",
    ),
    bad("MAX_BATCH_TOTAL_TOKENS", "-1", whole(2, 16777216)),
    SettingRow(
        "MAX_BATCH_PREFILL_TOKENS",
        "1000",
        "SettingsError: MAX_BATCH_PREFILL_TOKENS=1000 must be >= MAX_INPUT_TOKENS=2048",
        ("plan",),
    ),
    bad("MAX_BATCH_PREFILL_TOKENS", "nan", whole(1, 16777216)),
    bad("HEALTH_CHECK_TIMEOUT", "10", whole(60, 3600)),
    bad("HEALTH_CHECK_TIMEOUT", "3601", whole(60, 3600)),
    bad("MODEL_DOWNLOAD_TIMEOUT", "59", whole(60, 3600)),
    bad("MODEL_DOWNLOAD_TIMEOUT", "1.5", whole(60, 3600)),
    bad("AUTOSCALING_ENABLED", "maybe", BOOL),
    bad("AUTOSCALING_ENABLED", "truee", BOOL),
    bad("AUTOSCALING_MIN_CAPACITY", "0", whole(1, 100)),
    bad("AUTOSCALING_MIN_CAPACITY", "1000000", whole(1, 100)),
    SettingRow(
        "AUTOSCALING_MAX_CAPACITY",
        "2",
        "SettingsError: AUTOSCALING_MAX_CAPACITY=2 must be >= AUTOSCALING_MIN_CAPACITY=3",
        env={"AUTOSCALING_MIN_CAPACITY": "3"},
    ),
    bad("AUTOSCALING_MAX_CAPACITY", "1000000", whole(1, 100), "cost", env={"AUTOSCALING_ENABLED": "true"}),
    bad("AUTOSCALING_TARGET_INVOCATIONS", "0", "expected a number > 0 and at most 100000"),
    bad("AUTOSCALING_TARGET_INVOCATIONS", "inf", "expected a number > 0 and at most 100000"),
    bad("AUTOSCALING_TARGET_INVOCATIONS", "nan", "expected a number > 0 and at most 100000"),
    bad("AUTOSCALING_TARGET_INVOCATIONS", "1e308", "expected a number > 0 and at most 100000"),
    bad("AUTOSCALING_SCALE_IN_COOLDOWN", "-5", whole(0, 86400), "plan", dotenv=True),
    bad("AUTOSCALING_SCALE_IN_COOLDOWN", "86401", whole(0, 86400)),
    bad("AUTOSCALING_SCALE_OUT_COOLDOWN", "abc", whole(0, 86400)),
    bad("AUTOSCALING_SCALE_OUT_COOLDOWN", "1e9", whole(0, 86400)),
    SettingRow(
        "SCHEDULED_SCALE_IN",
        "true",
        "SettingsError: SCHEDULED_SCALE_IN=true needs AUTOSCALING_ENABLED=true: the schedule moves the "
        "scalable target's bounds, and there is none without autoscaling",
    ),
    bad("SCHEDULED_SCALE_IN", "sometimes", BOOL),
    bad("SCALE_IN_CRON", "0 19 * * 1-5", CRON),
    bad("SCALE_IN_CRON", "cron(0 19 ? * MON-FRI *)\n", CRON),
    bad("SCALE_IN_CRON", "cron(0 25 ? * MON-FRI *)", cron_field("hours", "25", "0-23", ", - * /")),
    bad("SCALE_IN_CRON", "cron(0 19 ? 13 MON *)", cron_field("month", "13", "1-12 or JAN-DEC", ", - * /")),
    bad("SCALE_OUT_CRON", "cron(60 7 ? * MON-FRI *)", cron_field("minutes", "60", "0-59", ", - * /")),
    bad("SCALE_OUT_CRON", "cron(0 7 ? * MON-FRI 1969)", cron_field("year", "1969", "1970-2199", ", - * /")),
    bad(
        "SCALE_OUT_CRON",
        "cron(0 7 ? * MON#6 *)",
        cron_field("day-of-week", "MON#6", "1-7 or SUN-SAT", ", - * ? L #"),
    ),
    bad("SCALE_OUT_CRON", "cron(0 7 32 * ? *)", cron_field("day-of-month", "32", "1-31", ", - * / ? L W")),
    bad(
        "SCALE_OUT_CRON",
        "cron(0 7 * * MON-FRI *)",
        "exactly one of day-of-month and day-of-week must be '?', e.g. cron(0 19 ? * MON-FRI *)",
    ),
    bad("SCHEDULE_TIMEZONE", "Berlin", "expected UTC or an IANA time zone such as Europe/Berlin"),
    bad("SCHEDULE_TIMEZONE", "../../etc/passwd", "expected UTC or an IANA time zone such as Europe/Berlin"),
    bad("ROLLOUT_MODE", "blue_green", "allowed: none, all_at_once, canary, linear"),
    bad("ROLLOUT_MODE", "CANARY", "allowed: none, all_at_once, canary, linear"),
    bad("ROLLOUT_CANARY_PERCENT", "60", whole(1, 50)),
    bad("ROLLOUT_CANARY_PERCENT", "0", whole(1, 50)),
    bad("ROLLOUT_LINEAR_STEP_PERCENT", "5", whole(10, 50)),
    bad("ROLLOUT_LINEAR_STEP_PERCENT", "51", whole(10, 50)),
    bad("ROLLOUT_WAIT_SECONDS", "3601", whole(0, 3600)),
    bad("ROLLOUT_WAIT_SECONDS", "-1", whole(0, 3600)),
    bad("ROLLOUT_TERMINATION_WAIT_SECONDS", "3601", whole(0, 3600)),
    bad("ROLLOUT_TERMINATION_WAIT_SECONDS", "1h", whole(0, 3600)),
    bad("ALARM_5XX_ENABLED", "maybe", BOOL),
    bad("ALARM_5XX_ENABLED", "enabled", BOOL),
    bad("ALARM_5XX_THRESHOLD", "0", whole(1, 100000)),
    bad("ALARM_5XX_THRESHOLD", "1000000000", whole(1, 100000)),
    bad("ALARM_LATENCY_P99_ENABLED", "nope", BOOL),
    bad("ALARM_LATENCY_P99_ENABLED", "2", BOOL),
    bad("ALARM_LATENCY_P99_MS", "0", whole(1, 3600000)),
    bad("ALARM_LATENCY_P99_MS", "3600001", whole(1, 3600000)),
    bad("ALARM_SETUP_TIME_ENABLED", "y", BOOL),
    bad("ALARM_SETUP_TIME_ENABLED", "null", BOOL),
    bad("ALARM_SETUP_TIME_SECONDS", "0", whole(1, 3600)),
    bad("ALARM_SETUP_TIME_SECONDS", "3601", whole(1, 3600)),
    bad("ASYNC_INFERENCE_ENABLED", "maybe", BOOL),
    bad("ASYNC_INFERENCE_ENABLED", "1.0", BOOL),
    bad("ASYNC_MAX_CONCURRENT_INVOCATIONS", "0", whole(1, 1000)),
    bad("ASYNC_MAX_CONCURRENT_INVOCATIONS", "1001", whole(1, 1000)),
    bad("STATE_BACKEND", "dynamodb", "allowed: local, s3"),
    bad("STATE_BACKEND", "S3", "allowed: local, s3"),
    bad("STATE_BUCKET", "a..b", "an S3 bucket name has no two adjacent periods", "bootstrap-state"),
    bad(
        "STATE_BUCKET",
        "192.168.5.4",
        "an S3 bucket name must not be formatted as an IP address",
        "bootstrap-state",
    ),
    bad(
        "STATE_BUCKET",
        "my-state\n",
        "an S3 bucket name is 3-63 lowercase letters, digits, '.' or '-', starting and ending with a letter or digit",
        "bootstrap-state",
    ),
    bad("STATE_BUCKET", "xn--state", "S3 reserves bucket names starting with 'xn--'", "bootstrap-state"),
    bad(
        "STATE_BUCKET", "state-s3alias", "S3 reserves bucket names ending with '-s3alias'", "bootstrap-state"
    ),
    bad("STATE_BUCKET", "state--x-s3", "S3 reserves bucket names ending with '--x-s3'"),
    bad("COST_HOURS_PER_MONTH", "745", whole(1, 744), "cost"),
    bad("COST_HOURS_PER_MONTH", "0", whole(1, 744), "cost"),
    bad("COST_MONTHLY_BUDGET_USD", "-1", "expected a number from 0 to 10000000", "cost"),
    bad("COST_MONTHLY_BUDGET_USD", "inf", "expected a number from 0 to 10000000", "cost"),
    bad("COST_MONTHLY_BUDGET_USD", "1e308", "expected a number from 0 to 10000000"),
    bad("MODEL_STORAGE_GB", "1e308", "expected a number from 0 to 100000", "cost"),
    bad("MODEL_STORAGE_GB", "nan", "expected a number from 0 to 100000", "cost"),
    bad("MODEL_STORAGE_GB", "-1", "expected a number from 0 to 100000"),
    bad("PRICING_SOURCE", "live", "allowed: auto, table", "cost"),
    bad("PRICING_SOURCE", "api", "allowed: auto, table"),
    bad("FORCE_DESTROY", "maybe", BOOL, "destroy"),
    bad("FORCE_DESTROY", "always", BOOL),
    bad("LOCAL_AWS_PORT", "70000", whole(1, 65535), "local", "up"),
    bad("LOCAL_AWS_PORT", "0", whole(1, 65535)),
    bad("LOCAL_AWS_PORT", "http", whole(1, 65535), "infer", "hi"),
    bad("LOCAL_AWS_ENFORCE_IAM", "maybe", BOOL, "local", "up"),
    bad("LOCAL_AWS_ENFORCE_IAM", "enforce", BOOL),
    bad("LOCAL_MODEL_ID", "owner/has space", MODEL_ID),
    bad("LOCAL_MODEL_ID", "../relative/dir", MODEL_ID, "plan"),
    bad("LOCAL_MODEL", "standin", "allowed: auto, model, stand-in"),
    bad("LOCAL_MODEL", "none", "allowed: auto, model, stand-in", "plan"),
    bad("LOCAL_DTYPE", "fp16", "allowed: auto, bfloat16, float32"),
    bad("LOCAL_DTYPE", "float16", "allowed: auto, bfloat16, float32", "plan"),
    bad("LLM_TWIN_STATE_DIR", "{tmp}/a-file", "{tmp}/a-file is not a directory"),
    bad(
        "LLM_TWIN_STATE_DIR",
        "{tmp}/a-file/state",
        "it cannot be created: {tmp}/a-file is not a directory",
        "local",
        "up",
    ),
    bad(
        "LLM_TWIN_STATE_DIR",
        "/dev/null/llm-twin",
        "it cannot be created: /dev/null is not a directory",
        "plan",
    ),
    bad("SAGEMAKER_USER_CREDENTIALS", "{tmp}/empty-dir", "{tmp}/empty-dir is a directory, not a file name"),
    bad("SAGEMAKER_USER_CREDENTIALS", ".", ". is a directory, not a file name", "plan"),
    bad(
        "SAGEMAKER_USER_CREDENTIALS",
        "{tmp}/a-file/credentials.json",
        "its directory is unusable: {tmp}/a-file is not a directory",
        env=AWS,
    ),
    bad(
        "TF_CLI",
        "no-such-terraform",
        "no such executable on PATH; expected terraform, tofu, or a path to one",
    ),
    bad("TF_CLI", "{tmp}/a-file", "{tmp}/a-file is not an executable file", "plan"),
    bad("TF_CLI", "{tmp}/empty-dir", "{tmp}/empty-dir is not an executable file", "status"),
    bad(
        "TF_PLUGIN_DIR",
        "{tmp}/missing",
        "{tmp}/missing does not exist; expected empty or a provider mirror for `terraform init -plugin-dir`",
    ),
    bad(
        "TF_PLUGIN_DIR",
        "{tmp}/empty-dir",
        "it holds no registry.terraform.io/hashicorp/aws provider for {platform} (expected "
        "{tmp}/empty-dir/registry.terraform.io/hashicorp/aws/<version>/{platform}/); expected empty or a "
        "provider mirror for `terraform init -plugin-dir`",
        "validate",
    ),
    bad("TF_PLUGIN_CACHE_DIR", "{tmp}/a-file", "{tmp}/a-file is not a directory", "plan"),
    bad("TF_PLUGIN_CACHE_DIR", "{tmp}/a-file/cache", "it cannot be created: {tmp}/a-file is not a directory"),
    SettingRow("GATEWAY_TOKEN", "short", GATEWAY_TOKEN, ("serve",)),
    SettingRow("GATEWAY_TOKEN", "a-long-enough-token with-a-space", GATEWAY_TOKEN),
    bad("GATEWAY_CORS_ORIGINS", "http://example.com/path", f"'http://example.com/path' {ORIGINS}", "serve"),
    bad("GATEWAY_CORS_ORIGINS", "ftp://example.com", f"'ftp://example.com' {ORIGINS}"),
    bad("GATEWAY_MAX_BODY_BYTES", "100", whole(1024, 67108864), "serve"),
    bad("GATEWAY_MAX_BODY_BYTES", "1e9", whole(1024, 67108864)),
    bad("GATEWAY_HOST", "bad host", HOST, "serve"),
    bad("GATEWAY_HOST", "-leading-dash", HOST),
    bad("GATEWAY_PORT", "0", whole(1, 65535), "serve"),
    bad("GATEWAY_PORT", "65536", whole(1, 65535)),
    bad("GATEWAY_HEADER_TIMEOUT_SECONDS", "0", whole(1, 300), "serve"),
    bad("GATEWAY_HEADER_TIMEOUT_SECONDS", "inf", whole(1, 300)),
    bad("GATEWAY_BODY_TIMEOUT_SECONDS", "-5", whole(1, 3600), "serve"),
    bad("GATEWAY_BODY_TIMEOUT_SECONDS", "0.5", whole(1, 3600)),
    bad("GATEWAY_MAX_CONNECTIONS", "0", whole(1, 10000), "serve"),
    bad("GATEWAY_MAX_CONNECTIONS", "1000000", whole(1, 10000)),
]
