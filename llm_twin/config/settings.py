"""Settings from `.env` and the environment, validated before anything runs.

Every check here exists so that a bad value stops the CLI with one line naming the
setting and what is allowed, before Terraform creates anything. The environment wins
over `.env`, and both are read when `load_settings` is called, never at import time.
"""

from __future__ import annotations

import ipaddress
import re
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from dotenv import dotenv_values

from llm_twin.config.rules import (
    REGIONS,
    BoundedNumber,
    WholeNumber,
    bucket_name_problem,
    cron_problem,
    directory_problem,
    file_problem,
    invalid,
    profile_problem,
)
from llm_twin.control.images import resolve_tgi_image
from llm_twin.errors import SettingsError

Target = Literal["local", "aws"]

QUANTIZE = (
    "awq",
    "eetq",
    "exl2",
    "gptq",
    "marlin",
    "bitsandbytes",
    "bitsandbytes-nf4",
    "bitsandbytes-fp4",
    "fp8",
)
PREFIX_RE = re.compile(r"^[a-z][a-z0-9-]{1,22}[a-z0-9]$")
ENDPOINT_RE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
INSTANCE_RE = re.compile(r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
# Hugging Face's repo id (huggingface_hub's validate_repo_id), in ASCII; or a path in the container.
HUB_NAME = r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9_])?"
MODEL_ID_RE = re.compile(rf"/[^\s\x00-\x1f\x7f]*|(?:{HUB_NAME}/)?{HUB_NAME}")
ROLLOUT_MODES = ("none", "all_at_once", "canary", "linear")
# llm-twin's ceilings against typos (a million instances), held equal to terraform/variables.tf by a test.
MAX_INSTANCES = 100
MAX_TOKENS = 16_777_216
# Where CI's offline image keeps a filesystem mirror of the providers; used when TF_PLUGIN_DIR is empty.
DEFAULT_PLUGIN_MIRROR = Path("/opt/tf-plugins")
# Stands for the account id in the bucket names the prefix begins (never sent anywhere).
ACCOUNT_PLACEHOLDER = "123456789012"
TRUE, FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}


@dataclass(frozen=True)
class Secret:
    """A value that must never be printed: its repr and str are masked."""

    value: str = field(repr=False)

    def __repr__(self) -> str:
        return "Secret('****')" if self.value else "Secret('')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self.value)


@dataclass(frozen=True)
class Settings:
    """Everything the CLI needs, typed and already validated."""

    target: Target = "local"
    """local: the embedded AWS on loopback; aws: real AWS."""
    region: str = "eu-central-1"
    """AWS region for every resource."""
    aws_access_key_id: Secret = Secret("")
    """Admin key for the bootstrap stage (TARGET=aws)."""
    aws_secret_access_key: Secret = Secret("")
    """Admin secret for the bootstrap stage (TARGET=aws)."""
    aws_session_token: Secret = Secret("")
    """Optional session token for temporary admin credentials."""
    aws_profile: str = ""
    """Named profile, instead of keys, for the bootstrap stage."""
    name_prefix: str = "llm-twin"
    """Every resource name starts with it; the deployer may touch nothing else."""
    endpoint_name: str = ""
    """SageMaker endpoint name; defaults to <prefix>-endpoint."""
    hf_model_id: str = "mlabonne/TwinLlama-3.1-8B-DPO"
    """Hub repo id, or a path inside the container such as /opt/ml/model."""
    hf_token: Secret = Secret("")
    """Token for gated models; reaches Terraform only as TF_VAR_hf_token."""
    tgi_version: str = "3.3.6"
    """TGI release, resolved to the full DLC tag through the SDK's catalogue."""
    image_uri: str = ""
    """Explicit image URI; overrides tgi_version."""
    instance_type: str = "ml.g5.2xlarge"
    instance_count: int = 1
    num_gpus: int | None = None
    """SM_NUM_GPUS; None derives it from the instance type's GPU count (llm_twin.protocol.gpus)."""
    max_input_tokens: int = 2048
    max_total_tokens: int = 4096
    max_batch_total_tokens: int = 8192
    max_batch_prefill_tokens: int = 2048
    quantize: str = ""
    messages_api_enabled: bool = False
    health_check_timeout: int = 900
    """container_startup_health_check_timeout_in_seconds on the variant."""
    download_timeout: int = 1200
    """model_data_download_timeout_in_seconds on the variant."""
    model_data_s3_uri: str = ""
    """s3://bucket/prefix/ of uncompressed safetensors weights, or empty."""
    autoscaling_enabled: bool = False
    autoscaling_min: int = 1
    autoscaling_max: int = 2
    autoscaling_target: float = 5.0
    autoscaling_scale_in_cooldown: int = 600
    autoscaling_scale_out_cooldown: int = 300
    rollout_mode: str = "all_at_once"
    """Endpoint updates: none (SageMaker's default), or blue/green all_at_once, canary or linear."""
    rollout_canary_percent: int = 10
    rollout_linear_step_percent: int = 25
    rollout_wait_seconds: int = 300
    """Baking time between traffic steps, watched by the rollback alarms."""
    rollout_termination_wait_seconds: int = 0
    """How long the old fleet stays after the shift, for a fast manual way back."""
    alarm_5xx_enabled: bool = True
    alarm_5xx_threshold: int = 1
    """Invocation5XXErrors per minute that fire the alarm."""
    alarm_latency_p99_enabled: bool = True
    alarm_latency_p99_ms: int = 30000
    """p99 ModelLatency above this fires the alarm; generations are long, so the default is too."""
    alarm_setup_time_enabled: bool = True
    alarm_setup_time_seconds: int = 900
    scheduled_scale_in: bool = False
    """Hold the variant at AUTOSCALING_MIN_CAPACITY outside working hours."""
    scale_in_cron: str = "cron(0 19 ? * MON-FRI *)"
    scale_out_cron: str = "cron(0 7 ? * MON-FRI *)"
    schedule_timezone: str = "UTC"
    async_inference_enabled: bool = False
    """An async endpoint config writing to s3://<bucket>/async/output/, for generations over 60 s."""
    async_max_concurrent_invocations: int = 4
    force_destroy: bool | None = None
    """Destroy may empty the bucket/repository; defaults to true locally, false on AWS."""
    local_port: int = 4566
    """Port of the embedded local AWS (LocalStack's edge port, so its tools work)."""
    local_enforce_iam: bool = False
    """Start the embedded local AWS with IAM enforced, so the deployer's narrowness is real."""
    state_dir: Path = Path(".llm-twin")
    """Emulator pid and log, terraform state per target, plans and the plugin cache."""
    credentials_file: Path = Path("sagemaker_user_credentials.json")
    """Where the deployer's key pair is written (0600)."""
    terraform_dir: Path = Path(__file__).resolve().parents[2] / "terraform"
    """The root of the Terraform code (main stack; bootstrap/ beneath it)."""
    terraform_binary: str = "terraform"
    """TF_CLI: terraform, tofu, or a path."""
    tf_plugin_dir: Path | None = None
    """Offline provider mirror passed to `terraform init -plugin-dir`; unset uses the registry."""
    tf_plugin_cache_dir: Path | None = None
    """Provider cache shared by every stack and target; defaults under state_dir."""
    gateway_token: Secret = Secret("")
    """Bearer token for `llm-twin serve`; empty on a loopback host means one is generated per run."""
    gateway_cors_origins: tuple[str, ...] = ()
    """Origins (scheme://host[:port]) whose pages may call the gateway; ("*",) any; () same-origin only."""
    gateway_max_body_bytes: int = 262144
    """Largest request body the gateway reads; a larger one is answered 413 while it is still arriving."""
    gateway_host: str = "127.0.0.1"
    """Address `llm-twin serve` binds to; anything but loopback needs GATEWAY_TOKEN."""
    gateway_port: int = 8080
    gateway_header_timeout: int = 10
    """Seconds a client has to send its request line and headers; then 408 and the socket is closed."""
    gateway_body_timeout: int = 30
    """Seconds a client has to send the whole body (a total, so a slow trickle is cut too)."""
    gateway_max_connections: int = 256
    """Client sockets `llm-twin serve` holds at most; one more is answered 503 and closed."""
    state_backend: str = "local"
    """Where Terraform keeps state: local files per target, or s3 (with a native S3 lock file)."""
    state_bucket: str = ""
    """The S3 state bucket; empty means <prefix>-tfstate-<account id>."""
    cost_hours_per_month: int = 730
    """Hours a month is billed for in `llm-twin cost` (AWS's own convention is 730)."""
    cost_monthly_budget: float = 0.0
    """USD a month that `apply` refuses to exceed on the aws target; 0 means no limit."""
    model_storage_gb: float = 16.0
    """GB of model weights and state kept in S3, for the storage line of the estimate."""
    pricing_source: str = "auto"
    """auto: AWS's Pricing API when credentials exist and it answers quickly, else the table; table: never ask."""

    @property
    def endpoint(self) -> str:
        return self.endpoint_name or f"{self.name_prefix}-endpoint"

    @property
    def endpoint_url(self) -> str | None:
        """The emulator's URL on the local target; None means AWS's own endpoints."""
        return f"http://127.0.0.1:{self.local_port}" if self.target == "local" else None

    @property
    def destroy_force(self) -> bool:
        return self.force_destroy if self.force_destroy is not None else self.target == "local"

    @property
    def plugin_cache_dir(self) -> Path:
        return self.tf_plugin_cache_dir or self.state_dir / "plugin-cache"

    def target_dir(self) -> Path:
        """Per-target state, so a local run never touches the aws state and back."""
        return self.state_dir / self.target


def _fail(name: str, value: str, allowed: str) -> SettingsError:
    return invalid(name, value, allowed)


def _int(lo: int, hi: int) -> WholeNumber:
    """Every number has both bounds: an unbounded one reaches Terraform as a million instances."""
    return WholeNumber(lo, hi)


def _optional_int(lo: int, hi: int) -> WholeNumber:
    """Empty means "derive it"; anything else must be a whole number in range."""
    return WholeNumber(lo, hi, optional=True)


def _bool(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in TRUE:
        return True
    if lowered in FALSE:
        return False
    raise _fail(name, raw, "expected true or false")


def _optional_bool(name: str, raw: str) -> bool | None:
    return None if raw.strip() == "" else _bool(name, raw)


def _choice(*choices: str) -> Callable[[str, str], str]:
    def parse(name: str, raw: str) -> str:
        value = raw.strip()
        if value not in choices:
            raise _fail(name, raw, f"allowed: {', '.join(c or '(empty)' for c in choices)}")
        return value

    return parse


def _pattern(regex: re.Pattern[str], allowed: str) -> Callable[[str, str], str]:
    def parse(name: str, raw: str) -> str:
        if not regex.fullmatch(raw):
            raise _fail(name, raw, allowed)
        return raw

    return parse


def _model_id(name: str, raw: str) -> str:
    if not MODEL_ID_RE.fullmatch(raw) or (
        not raw.startswith("/") and ("--" in raw or ".." in raw or raw.endswith(".git"))
    ):
        raise _fail(
            name,
            raw,
            "expected a Hub repo id like owner/name (letters, digits, '-', '_' or '.', at most 96 each, "
            "no '--' or '..') or an absolute path, without spaces",
        )
    return raw


def _region(name: str, raw: str) -> str:
    if raw not in REGIONS:
        raise _fail(
            name, raw, "expected an AWS region with SageMaker hosting, e.g. eu-central-1 or us-east-1"
        )
    return raw


def _s3_prefix(name: str, raw: str) -> str:
    match = re.fullmatch(r"s3://([^/]+)/[^\x00-\x1f\x7f]*/", raw)
    if raw and not match:
        raise _fail(
            name, raw, "expected empty or an S3 prefix ending in '/', e.g. s3://bucket/models/twin/v1/"
        )
    if match and (problem := bucket_name_problem(match[1])):
        raise _fail(name, raw, problem)
    return raw


def _bucket(name: str, raw: str) -> str:
    """Empty (the default name), or a name S3 accepts for a general purpose bucket."""
    if raw and (problem := bucket_name_problem(raw)):
        raise _fail(name, raw, problem)
    return raw


def _cron(name: str, raw: str) -> str:
    if problem := cron_problem(raw):
        raise _fail(name, raw, problem)
    return raw


def _timezone(name: str, raw: str) -> str:
    value = raw.strip()
    if value != "UTC" and value not in zoneinfo.available_timezones():
        raise _fail(name, raw, "expected UTC or an IANA time zone such as Europe/Berlin")
    return value


def _text(name: str, raw: str) -> str:
    return raw.strip()


def _secret(regex: re.Pattern[str], allowed: str) -> Callable[[str, str], Secret]:
    """A credential's characters are checked, so a pasted line break never reaches a header."""

    def parse(name: str, raw: str) -> Secret:
        value = raw.strip()
        if value and not regex.fullmatch(value):
            raise SettingsError(f"{name} is invalid: {allowed} (the value is not shown)")
        return Secret(value)

    return parse


# IAM's accessKeyIdType is [\w]+, at most 128; the emulator's "test" key is shorter than AWS's 16.
_key_id = _secret(re.compile(r"[A-Za-z0-9_]{1,128}"), "expected up to 128 letters, digits or '_'")
_printable_secret = _secret(re.compile(r"[!-~]+"), "expected printable ASCII characters without spaces")


def _path(name: str, raw: str) -> Path:
    return Path(raw).expanduser()


def _optional_path(name: str, raw: str) -> Path | None:
    return Path(raw).expanduser() if raw.strip() else None


GATEWAY_TOKEN_RE = re.compile(r"^[!-~]{16,512}$")
ORIGIN_RE = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$|^https?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")
HOST_RE = re.compile(
    r"^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)


def _gateway_token(name: str, raw: str) -> Secret:
    # The value is never echoed back, not even in the error: it is a secret either way.
    value = raw.strip()
    if value and not GATEWAY_TOKEN_RE.fullmatch(value):
        raise SettingsError(
            f"{name} is invalid: expected 16-512 printable ASCII characters without spaces "
            "(e.g. the output of `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
        )
    return Secret(value)


def _origins(name: str, raw: str) -> tuple[str, ...]:
    origins = tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())
    if origins == ("*",):
        return origins
    for origin in origins:
        if not ORIGIN_RE.fullmatch(origin):
            raise _fail(
                name,
                raw,
                f"{origin!r} is not an origin: expected comma-separated scheme://host[:port] without a path, "
                "e.g. http://localhost:3000, or * alone",
            )
    return origins


def _host(name: str, raw: str) -> str:
    value = raw.strip()
    try:
        ipaddress.ip_address(value)
        return value
    except ValueError:
        pass
    if len(value) > 253 or not HOST_RE.fullmatch(value):
        raise _fail(name, raw, "expected an IP address such as 127.0.0.1 or 0.0.0.0, or a host name")
    return value


# env name -> (field, parser). Order matters only for which error is reported first.
SPEC: dict[str, tuple[str, Callable[[str, str], Any]]] = {
    "TARGET": ("target", _choice("local", "aws")),
    "AWS_REGION": ("region", _region),
    "AWS_ACCESS_KEY_ID": ("aws_access_key_id", _key_id),
    "AWS_SECRET_ACCESS_KEY": ("aws_secret_access_key", _printable_secret),
    "AWS_SESSION_TOKEN": ("aws_session_token", _printable_secret),
    "AWS_PROFILE": ("aws_profile", _text),
    "LLM_TWIN_PREFIX": (
        "name_prefix",
        _pattern(
            PREFIX_RE,
            "expected 3-24 lowercase letters, digits or '-', starting with a letter and ending with a letter or digit",
        ),
    ),
    "SAGEMAKER_ENDPOINT_NAME": (
        "endpoint_name",
        _pattern(
            ENDPOINT_RE,
            "SageMaker allows 1-63 letters, digits or '-', starting and ending with a letter or digit",
        ),
    ),
    "HF_MODEL_ID": ("hf_model_id", _model_id),
    "HF_TOKEN": ("hf_token", _printable_secret),
    "TGI_VERSION": (
        "tgi_version",
        _pattern(re.compile(r"[0-9]+\.[0-9]+(\.[0-9]+)?"), "expected a version like 3.3.6"),
    ),
    "TGI_IMAGE_URI": (
        "image_uri",
        _pattern(
            re.compile(r"([!-~]+:[!-~]+)?"), "expected empty or an image reference repo:tag, without spaces"
        ),
    ),
    "SAGEMAKER_INSTANCE_TYPE": (
        "instance_type",
        _pattern(INSTANCE_RE, "expected a SageMaker instance type starting with 'ml.', e.g. ml.g5.2xlarge"),
    ),
    "SAGEMAKER_INSTANCE_COUNT": ("instance_count", _int(1, MAX_INSTANCES)),
    "SM_NUM_GPUS": ("num_gpus", _optional_int(1, 8)),
    "MAX_INPUT_TOKENS": ("max_input_tokens", _int(1, MAX_TOKENS)),
    "MAX_TOTAL_TOKENS": ("max_total_tokens", _int(2, MAX_TOKENS)),
    "MAX_BATCH_TOTAL_TOKENS": ("max_batch_total_tokens", _int(2, MAX_TOKENS)),
    "MAX_BATCH_PREFILL_TOKENS": ("max_batch_prefill_tokens", _int(1, MAX_TOKENS)),
    "HF_MODEL_QUANTIZE": ("quantize", _choice("", *QUANTIZE)),
    "MESSAGES_API_ENABLED": ("messages_api_enabled", _bool),
    "HEALTH_CHECK_TIMEOUT": ("health_check_timeout", _int(60, 3600)),
    "MODEL_DOWNLOAD_TIMEOUT": ("download_timeout", _int(60, 3600)),
    "MODEL_DATA_S3_URI": ("model_data_s3_uri", _s3_prefix),
    "AUTOSCALING_ENABLED": ("autoscaling_enabled", _bool),
    "AUTOSCALING_MIN_CAPACITY": ("autoscaling_min", _int(1, MAX_INSTANCES)),
    "AUTOSCALING_MAX_CAPACITY": ("autoscaling_max", _int(1, MAX_INSTANCES)),
    "AUTOSCALING_TARGET_INVOCATIONS": ("autoscaling_target", BoundedNumber(0, 100_000, lo_open=True)),
    "AUTOSCALING_SCALE_IN_COOLDOWN": ("autoscaling_scale_in_cooldown", _int(0, 86400)),
    "AUTOSCALING_SCALE_OUT_COOLDOWN": ("autoscaling_scale_out_cooldown", _int(0, 86400)),
    "ROLLOUT_MODE": ("rollout_mode", _choice(*ROLLOUT_MODES)),
    "ROLLOUT_CANARY_PERCENT": ("rollout_canary_percent", _int(1, 50)),
    "ROLLOUT_LINEAR_STEP_PERCENT": ("rollout_linear_step_percent", _int(10, 50)),
    "ROLLOUT_WAIT_SECONDS": ("rollout_wait_seconds", _int(0, 3600)),
    "ROLLOUT_TERMINATION_WAIT_SECONDS": ("rollout_termination_wait_seconds", _int(0, 3600)),
    "ALARM_5XX_ENABLED": ("alarm_5xx_enabled", _bool),
    "ALARM_5XX_THRESHOLD": ("alarm_5xx_threshold", _int(1, 100_000)),
    "ALARM_LATENCY_P99_ENABLED": ("alarm_latency_p99_enabled", _bool),
    "ALARM_LATENCY_P99_MS": ("alarm_latency_p99_ms", _int(1, 3_600_000)),
    "ALARM_SETUP_TIME_ENABLED": ("alarm_setup_time_enabled", _bool),
    "ALARM_SETUP_TIME_SECONDS": ("alarm_setup_time_seconds", _int(1, 3600)),
    "SCHEDULED_SCALE_IN": ("scheduled_scale_in", _bool),
    "SCALE_IN_CRON": ("scale_in_cron", _cron),
    "SCALE_OUT_CRON": ("scale_out_cron", _cron),
    "SCHEDULE_TIMEZONE": ("schedule_timezone", _timezone),
    "ASYNC_INFERENCE_ENABLED": ("async_inference_enabled", _bool),
    "ASYNC_MAX_CONCURRENT_INVOCATIONS": ("async_max_concurrent_invocations", _int(1, 1000)),
    "FORCE_DESTROY": ("force_destroy", _optional_bool),
    "LOCAL_AWS_PORT": ("local_port", _int(1, 65535)),
    "LOCAL_AWS_ENFORCE_IAM": ("local_enforce_iam", _bool),
    "LLM_TWIN_STATE_DIR": ("state_dir", _path),
    "SAGEMAKER_USER_CREDENTIALS": ("credentials_file", _path),
    "LLM_TWIN_TERRAFORM_DIR": ("terraform_dir", _path),
    "TF_CLI": ("terraform_binary", _text),
    "TF_PLUGIN_DIR": ("tf_plugin_dir", _optional_path),
    "TF_PLUGIN_CACHE_DIR": ("tf_plugin_cache_dir", _optional_path),
    "GATEWAY_TOKEN": ("gateway_token", _gateway_token),
    "GATEWAY_CORS_ORIGINS": ("gateway_cors_origins", _origins),
    "GATEWAY_MAX_BODY_BYTES": ("gateway_max_body_bytes", _int(1024, 64 * 1024 * 1024)),
    "GATEWAY_HOST": ("gateway_host", _host),
    "GATEWAY_PORT": ("gateway_port", _int(1, 65535)),
    "GATEWAY_HEADER_TIMEOUT_SECONDS": ("gateway_header_timeout", _int(1, 300)),
    "GATEWAY_BODY_TIMEOUT_SECONDS": ("gateway_body_timeout", _int(1, 3600)),
    "GATEWAY_MAX_CONNECTIONS": ("gateway_max_connections", _int(1, 10000)),
    "STATE_BACKEND": ("state_backend", _choice("local", "s3")),
    "STATE_BUCKET": ("state_bucket", _bucket),
    "COST_HOURS_PER_MONTH": ("cost_hours_per_month", _int(1, 744)),
    "COST_MONTHLY_BUDGET_USD": ("cost_monthly_budget", BoundedNumber(0, 10_000_000)),
    "MODEL_STORAGE_GB": ("model_storage_gb", BoundedNumber(0, 100_000)),
    "PRICING_SOURCE": ("pricing_source", _choice("auto", "table")),
}

_DEFAULTS = {f.name: f.default for f in fields(Settings)}


def _check_relations(s: Settings) -> None:
    """Rules between settings, each named so the fix is obvious."""
    if s.max_total_tokens <= s.max_input_tokens:
        raise SettingsError(
            f"MAX_TOTAL_TOKENS={s.max_total_tokens} must be greater than MAX_INPUT_TOKENS={s.max_input_tokens}"
        )
    if s.max_batch_prefill_tokens < s.max_input_tokens:
        raise SettingsError(
            f"MAX_BATCH_PREFILL_TOKENS={s.max_batch_prefill_tokens} must be >= MAX_INPUT_TOKENS={s.max_input_tokens}"
        )
    if s.max_batch_total_tokens < s.max_total_tokens:
        raise SettingsError(
            f"MAX_BATCH_TOTAL_TOKENS={s.max_batch_total_tokens} must be >= MAX_TOTAL_TOKENS={s.max_total_tokens}"
        )
    if s.scheduled_scale_in and not s.autoscaling_enabled:
        raise SettingsError(
            "SCHEDULED_SCALE_IN=true needs AUTOSCALING_ENABLED=true: the schedule moves the scalable "
            "target's bounds, and there is none without autoscaling"
        )
    if s.autoscaling_max < s.autoscaling_min:
        raise SettingsError(
            f"AUTOSCALING_MAX_CAPACITY={s.autoscaling_max} must be >= AUTOSCALING_MIN_CAPACITY={s.autoscaling_min}"
        )
    for bucket in (
        f"{s.name_prefix}-tfstate-{ACCOUNT_PLACEHOLDER}",
        f"{s.name_prefix}-artifacts-{ACCOUNT_PLACEHOLDER}-{s.region}",
    ):
        if problem := bucket_name_problem(bucket):
            shown = bucket.replace(ACCOUNT_PLACEHOLDER, "<account>")
            raise SettingsError(
                f"LLM_TWIN_PREFIX={s.name_prefix!r} is invalid: it begins the bucket name {shown!r}, and {problem}"
            )
    if not s.endpoint.startswith(f"{s.name_prefix}-"):
        raise SettingsError(
            f"SAGEMAKER_ENDPOINT_NAME={s.endpoint!r} must start with '{s.name_prefix}-' "
            "(LLM_TWIN_PREFIX): the deployer may only touch names with that prefix"
        )
    if not s.image_uri and resolve_tgi_image(s.tgi_version, s.region).account is None:
        raise SettingsError(
            f"TGI_VERSION={s.tgi_version} has no DLC image in AWS_REGION={s.region}: "
            "pick another region or set TGI_IMAGE_URI"
        )
    if s.target == "aws" and not (s.aws_profile or (s.aws_access_key_id and s.aws_secret_access_key)):
        raise SettingsError(
            "TARGET=aws needs admin credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
            "(or AWS_PROFILE) in .env or the environment"
        )


def _check_environment(s: Settings, merged: Mapping[str, str]) -> None:
    """What the settings name outside themselves: the AWS profile, the state directory, the key file.

    Checked without creating anything, so a bad path stops here instead of as a traceback later.
    """
    if s.aws_profile and (problem := profile_problem(s.aws_profile)):
        raise _fail("AWS_PROFILE", s.aws_profile, problem)
    if problem := directory_problem(s.state_dir):
        raise _fail("LLM_TWIN_STATE_DIR", merged.get("LLM_TWIN_STATE_DIR", str(s.state_dir)), problem)
    if problem := file_problem(s.credentials_file):
        raise _fail(
            "SAGEMAKER_USER_CREDENTIALS",
            merged.get("SAGEMAKER_USER_CREDENTIALS", str(s.credentials_file)),
            problem,
        )


def load_settings(environ: Mapping[str, str], dotenv_path: Path | None = Path(".env")) -> Settings:
    """Merge `.env` under `environ` and validate; SettingsError on the first bad value."""
    merged: dict[str, str] = {}
    if dotenv_path is not None and dotenv_path.is_file():
        merged.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
    merged.update({k: v for k, v in environ.items() if k in SPEC})

    values: dict[str, Any] = {}
    for env_name, (attr, parse) in SPEC.items():
        raw = merged.get(env_name)
        if raw is None or (raw.strip() == "" and not isinstance(_DEFAULTS[attr], bool | type(None))):
            continue
        values[attr] = parse(env_name, raw)
    if values.get("tf_plugin_dir") is None and DEFAULT_PLUGIN_MIRROR.is_dir():
        values["tf_plugin_dir"] = DEFAULT_PLUGIN_MIRROR  # the Makefile's old default, now the CLI's own
    settings = Settings(**values)
    _check_relations(settings)
    _check_environment(settings, merged)
    return settings
