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

from llm_twin.errors import SettingsError
from llm_twin.images import resolve_tgi_image

Target = Literal["local", "aws"]

# Regions with SageMaker hosting (2026). An unknown region fails here, not an hour later.
REGIONS = frozenset(
    [
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
        "ca-central-1",
        "ca-west-1",
        "mx-central-1",
        "sa-east-1",
        "eu-central-1",
        "eu-central-2",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "eu-north-1",
        "eu-south-1",
        "eu-south-2",
        "af-south-1",
        "me-south-1",
        "me-central-1",
        "il-central-1",
        "ap-east-1",
        "ap-east-2",
        "ap-south-1",
        "ap-south-2",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-3",
        "ap-southeast-4",
        "ap-southeast-5",
        "ap-southeast-7",
        "us-gov-west-1",
        "us-gov-east-1",
        "cn-north-1",
        "cn-northwest-1",
    ]
)
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
MODEL_ID_RE = re.compile(r"^(/[^\s]*|[A-Za-z0-9][\w.-]*/[\w.-]+|[A-Za-z0-9][\w.-]*)$")
ROLLOUT_MODES = ("none", "all_at_once", "canary", "linear")
# Application Auto Scaling's cron: six fields, minutes to year.
CRON_RE = re.compile(r"^cron\(\S+ \S+ \S+ \S+ \S+ \S+\)$")
CRON_ALLOWED = (
    "expected cron(minutes hours day-of-month month day-of-week year), e.g. cron(0 19 ? * MON-FRI *)"
)
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
    """SM_NUM_GPUS; None derives it from the instance type's GPU count (llm_twin.gpus)."""
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
    terraform_dir: Path = Path(__file__).resolve().parent.parent / "terraform"
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
    return SettingsError(f"{name}={value!r} is invalid: {allowed}")


def _int(lo: int, hi: int | None = None) -> Callable[[str, str], int]:
    def parse(name: str, raw: str) -> int:
        allowed = f"a whole number from {lo}" + (f" to {hi}" if hi is not None else " up")
        try:
            value = int(raw.strip())
        except ValueError:
            raise _fail(name, raw, f"expected {allowed}") from None
        if value < lo or (hi is not None and value > hi):
            raise _fail(name, raw, f"expected {allowed}")
        return value

    return parse


def _optional_int(lo: int, hi: int) -> Callable[[str, str], int | None]:
    """Empty means "derive it"; anything else must be a whole number in range."""
    parse = _int(lo, hi)

    def parse_optional(name: str, raw: str) -> int | None:
        return None if raw.strip() == "" else parse(name, raw)

    return parse_optional


def _positive_float(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise _fail(name, raw, "expected a number > 0") from None
    if not value > 0:
        raise _fail(name, raw, "expected a number > 0")
    return value


def _non_negative_float(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise _fail(name, raw, "expected a number >= 0") from None
    if not (value >= 0 and value < float("inf")):
        raise _fail(name, raw, "expected a number >= 0")
    return value


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
        if not regex.match(raw):
            raise _fail(name, raw, allowed)
        return raw

    return parse


def _region(name: str, raw: str) -> str:
    if raw not in REGIONS:
        raise _fail(
            name, raw, "expected an AWS region with SageMaker hosting, e.g. eu-central-1 or us-east-1"
        )
    return raw


def _s3_prefix(name: str, raw: str) -> str:
    if raw and not re.match(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.*/$", raw):
        raise _fail(
            name, raw, "expected empty or an S3 prefix ending in '/', e.g. s3://bucket/models/twin/v1/"
        )
    return raw


def _timezone(name: str, raw: str) -> str:
    value = raw.strip()
    if value != "UTC" and value not in zoneinfo.available_timezones():
        raise _fail(name, raw, "expected UTC or an IANA time zone such as Europe/Berlin")
    return value


def _text(name: str, raw: str) -> str:
    return raw.strip()


def _secret(name: str, raw: str) -> Secret:
    return Secret(raw.strip())


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
    if value and not GATEWAY_TOKEN_RE.match(value):
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
        if not ORIGIN_RE.match(origin):
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
    if len(value) > 253 or not HOST_RE.match(value):
        raise _fail(name, raw, "expected an IP address such as 127.0.0.1 or 0.0.0.0, or a host name")
    return value


# env name -> (field, parser). Order matters only for which error is reported first.
SPEC: dict[str, tuple[str, Callable[[str, str], Any]]] = {
    "TARGET": ("target", _choice("local", "aws")),
    "AWS_REGION": ("region", _region),
    "AWS_ACCESS_KEY_ID": ("aws_access_key_id", _secret),
    "AWS_SECRET_ACCESS_KEY": ("aws_secret_access_key", _secret),
    "AWS_SESSION_TOKEN": ("aws_session_token", _secret),
    "AWS_PROFILE": ("aws_profile", _text),
    "LLM_TWIN_PREFIX": (
        "name_prefix",
        _pattern(PREFIX_RE, "expected 3-24 lowercase letters, digits or '-', starting with a letter"),
    ),
    "SAGEMAKER_ENDPOINT_NAME": (
        "endpoint_name",
        _pattern(
            ENDPOINT_RE,
            "SageMaker allows 1-63 letters, digits or '-', starting and ending with a letter or digit",
        ),
    ),
    "HF_MODEL_ID": (
        "hf_model_id",
        _pattern(MODEL_ID_RE, "expected a Hub repo id like owner/name or an absolute path, without spaces"),
    ),
    "HF_TOKEN": ("hf_token", _secret),
    "TGI_VERSION": (
        "tgi_version",
        _pattern(re.compile(r"^\d+\.\d+(\.\d+)?$"), "expected a version like 3.3.6"),
    ),
    "TGI_IMAGE_URI": ("image_uri", _pattern(re.compile(r"^(\S+:\S+)?$"), "expected empty or repo:tag")),
    "SAGEMAKER_INSTANCE_TYPE": (
        "instance_type",
        _pattern(INSTANCE_RE, "expected a SageMaker instance type starting with 'ml.', e.g. ml.g5.2xlarge"),
    ),
    "SAGEMAKER_INSTANCE_COUNT": ("instance_count", _int(1)),
    "SM_NUM_GPUS": ("num_gpus", _optional_int(1, 8)),
    "MAX_INPUT_TOKENS": ("max_input_tokens", _int(1)),
    "MAX_TOTAL_TOKENS": ("max_total_tokens", _int(2)),
    "MAX_BATCH_TOTAL_TOKENS": ("max_batch_total_tokens", _int(2)),
    "MAX_BATCH_PREFILL_TOKENS": ("max_batch_prefill_tokens", _int(1)),
    "HF_MODEL_QUANTIZE": ("quantize", _choice("", *QUANTIZE)),
    "MESSAGES_API_ENABLED": ("messages_api_enabled", _bool),
    "HEALTH_CHECK_TIMEOUT": ("health_check_timeout", _int(60, 3600)),
    "MODEL_DOWNLOAD_TIMEOUT": ("download_timeout", _int(60, 3600)),
    "MODEL_DATA_S3_URI": ("model_data_s3_uri", _s3_prefix),
    "AUTOSCALING_ENABLED": ("autoscaling_enabled", _bool),
    "AUTOSCALING_MIN_CAPACITY": ("autoscaling_min", _int(1)),
    "AUTOSCALING_MAX_CAPACITY": ("autoscaling_max", _int(1)),
    "AUTOSCALING_TARGET_INVOCATIONS": ("autoscaling_target", _positive_float),
    "AUTOSCALING_SCALE_IN_COOLDOWN": ("autoscaling_scale_in_cooldown", _int(0, 86400)),
    "AUTOSCALING_SCALE_OUT_COOLDOWN": ("autoscaling_scale_out_cooldown", _int(0, 86400)),
    "ROLLOUT_MODE": ("rollout_mode", _choice(*ROLLOUT_MODES)),
    "ROLLOUT_CANARY_PERCENT": ("rollout_canary_percent", _int(1, 50)),
    "ROLLOUT_LINEAR_STEP_PERCENT": ("rollout_linear_step_percent", _int(10, 50)),
    "ROLLOUT_WAIT_SECONDS": ("rollout_wait_seconds", _int(0, 3600)),
    "ROLLOUT_TERMINATION_WAIT_SECONDS": ("rollout_termination_wait_seconds", _int(0, 3600)),
    "ALARM_5XX_ENABLED": ("alarm_5xx_enabled", _bool),
    "ALARM_5XX_THRESHOLD": ("alarm_5xx_threshold", _int(1)),
    "ALARM_LATENCY_P99_ENABLED": ("alarm_latency_p99_enabled", _bool),
    "ALARM_LATENCY_P99_MS": ("alarm_latency_p99_ms", _int(1, 3_600_000)),
    "ALARM_SETUP_TIME_ENABLED": ("alarm_setup_time_enabled", _bool),
    "ALARM_SETUP_TIME_SECONDS": ("alarm_setup_time_seconds", _int(1, 3600)),
    "SCHEDULED_SCALE_IN": ("scheduled_scale_in", _bool),
    "SCALE_IN_CRON": ("scale_in_cron", _pattern(CRON_RE, CRON_ALLOWED)),
    "SCALE_OUT_CRON": ("scale_out_cron", _pattern(CRON_RE, CRON_ALLOWED)),
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
    "STATE_BACKEND": ("state_backend", _choice("local", "s3")),
    "STATE_BUCKET": (
        "state_bucket",
        _pattern(
            re.compile(r"^([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])?$"),
            "expected empty or an S3 bucket name: 3-63 lowercase letters, digits, '.' or '-'",
        ),
    ),
    "COST_HOURS_PER_MONTH": ("cost_hours_per_month", _int(1, 744)),
    "COST_MONTHLY_BUDGET_USD": ("cost_monthly_budget", _non_negative_float),
    "MODEL_STORAGE_GB": ("model_storage_gb", _non_negative_float),
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
    settings = Settings(**values)
    _check_relations(settings)
    return settings
