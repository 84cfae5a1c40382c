"""Which environment variable fills which settings field, and by which parser.

One table, read by the loader, the bad-input tests and the `.env.example` coverage test:
adding a setting means one row here and one field in `llm_twin.config.model`.
Order matters only for which error is reported first.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from llm_twin.config import values
from llm_twin.protocol.backends import BACKENDS, Backend

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
ROLLOUT_MODES = ("none", "all_at_once", "canary", "linear")
LOCAL_MODEL_CHOICES = ("auto", "model", "stand-in")
LOCAL_DTYPES = ("auto", "bfloat16", "float32")
VERSION_RE = re.compile(r"[0-9]+\.[0-9]+(\.[0-9]+)?")
IMAGE_RE = re.compile(r"([!-~]+:[!-~]+)?")
IMAGE_ALLOWED = "expected empty or an image reference repo:tag, without spaces"
# vLLM refuses max_num_seqs above max_num_batched_tokens, which its API server defaults to 2048
# on GPUs under 70 GiB (SchedulerConfig._verify_args); llm-twin does not set that one.
MAX_VLLM_SEQS = 2048
# llm-twin's ceilings against typos (a million instances), held equal to terraform/variables.tf by a test.
MAX_INSTANCES = 100
MAX_TOKENS = 16_777_216
# Where CI's offline image keeps a filesystem mirror of the providers; used when TF_PLUGIN_DIR is empty.
DEFAULT_PLUGIN_MIRROR = Path("/opt/tf-plugins")


def whole(lo: int, hi: int) -> values.WholeNumber:
    """Every number has both bounds: an unbounded one reaches Terraform as a million instances."""
    return values.WholeNumber(lo, hi)


def optional_whole(lo: int, hi: int) -> values.WholeNumber:
    """Empty means "derive it"; anything else must be a whole number in range."""
    return values.WholeNumber(lo, hi, optional=True)


# env name -> ("group.field", or "field" for the top level, and its parser)
SPEC: dict[str, tuple[str, Callable[[str, str], Any]]] = {
    "TARGET": ("target", values.choice("local", "aws")),
    "AWS_REGION": ("region", values.region),
    "AWS_ACCESS_KEY_ID": ("admin.access_key_id", values.key_id),
    "AWS_SECRET_ACCESS_KEY": ("admin.secret_access_key", values.printable_secret),
    "AWS_SESSION_TOKEN": ("admin.session_token", values.printable_secret),
    "AWS_PROFILE": ("admin.profile", values.text),
    "LLM_TWIN_PREFIX": (
        "names.prefix",
        values.pattern(
            PREFIX_RE,
            "expected 3-24 lowercase letters, digits or '-', starting with a letter and ending with a letter or digit",
        ),
    ),
    "SAGEMAKER_ENDPOINT_NAME": (
        "names.endpoint_name",
        values.pattern(
            ENDPOINT_RE,
            "SageMaker allows 1-63 letters, digits or '-', starting and ending with a letter or digit",
        ),
    ),
    "SERVING_BACKEND": ("model.backend", values.choice(*BACKENDS)),
    "HF_MODEL_ID": ("model.hf_model_id", values.model_id),
    "HF_TOKEN": ("model.hf_token", values.printable_secret),
    "HF_MODEL_REVISION": ("model.revision", values.revision),
    "TGI_VERSION": ("model.tgi_version", values.pattern(VERSION_RE, "expected a version like 3.3.6")),
    "TGI_IMAGE_URI": ("model.image_uri", values.pattern(IMAGE_RE, IMAGE_ALLOWED)),
    "VLLM_VERSION": ("model.vllm_version", values.pattern(VERSION_RE, "expected a version like 0.29.0")),
    "VLLM_IMAGE_URI": ("model.vllm_image_uri", values.pattern(IMAGE_RE, IMAGE_ALLOWED)),
    "SAGEMAKER_INSTANCE_TYPE": (
        "variant.instance_type",
        values.pattern(
            INSTANCE_RE, "expected a SageMaker instance type starting with 'ml.', e.g. ml.g5.2xlarge"
        ),
    ),
    "SAGEMAKER_INSTANCE_COUNT": ("variant.instance_count", whole(1, MAX_INSTANCES)),
    "SM_NUM_GPUS": ("variant.num_gpus", optional_whole(1, 8)),
    "MAX_INPUT_TOKENS": ("tokens.max_input_tokens", whole(1, MAX_TOKENS)),
    "MAX_TOTAL_TOKENS": ("tokens.max_total_tokens", whole(2, MAX_TOKENS)),
    "MAX_BATCH_TOTAL_TOKENS": ("tokens.max_batch_total_tokens", whole(2, MAX_TOKENS)),
    "MAX_BATCH_PREFILL_TOKENS": ("tokens.max_batch_prefill_tokens", whole(1, MAX_TOKENS)),
    "VLLM_GPU_MEMORY_UTILIZATION": ("vllm.gpu_memory_utilization", values.BoundedNumber(0, 1, lo_open=True)),
    "VLLM_MAX_NUM_SEQS": ("vllm.max_num_seqs", whole(1, MAX_VLLM_SEQS)),
    "HF_MODEL_QUANTIZE": ("model.quantize", values.choice("", *QUANTIZE)),
    "MESSAGES_API_ENABLED": ("model.messages_api_enabled", values.boolean),
    "HEALTH_CHECK_TIMEOUT": ("variant.health_check_timeout", whole(60, 3600)),
    "MODEL_DOWNLOAD_TIMEOUT": ("variant.download_timeout", whole(60, 3600)),
    "MODEL_DATA_S3_URI": ("model.data_s3_uri", values.s3_prefix),
    "AUTOSCALING_ENABLED": ("autoscaling.enabled", values.boolean),
    "AUTOSCALING_MIN_CAPACITY": ("autoscaling.min_capacity", whole(1, MAX_INSTANCES)),
    "AUTOSCALING_MAX_CAPACITY": ("autoscaling.max_capacity", whole(1, MAX_INSTANCES)),
    "AUTOSCALING_TARGET_INVOCATIONS": (
        "autoscaling.target_invocations",
        values.BoundedNumber(0, 100_000, lo_open=True),
    ),
    "AUTOSCALING_SCALE_IN_COOLDOWN": ("autoscaling.scale_in_cooldown", whole(0, 86400)),
    "AUTOSCALING_SCALE_OUT_COOLDOWN": ("autoscaling.scale_out_cooldown", whole(0, 86400)),
    "ROLLOUT_MODE": ("rollout.mode", values.choice(*ROLLOUT_MODES)),
    "ROLLOUT_CANARY_PERCENT": ("rollout.canary_percent", whole(1, 50)),
    "ROLLOUT_LINEAR_STEP_PERCENT": ("rollout.linear_step_percent", whole(10, 50)),
    "ROLLOUT_WAIT_SECONDS": ("rollout.wait_seconds", whole(0, 3600)),
    "ROLLOUT_TERMINATION_WAIT_SECONDS": ("rollout.termination_wait_seconds", whole(0, 3600)),
    "ALARM_5XX_ENABLED": ("alarms.errors_5xx_enabled", values.boolean),
    "ALARM_5XX_THRESHOLD": ("alarms.errors_5xx_threshold", whole(1, 100_000)),
    "ALARM_LATENCY_P99_ENABLED": ("alarms.latency_p99_enabled", values.boolean),
    "ALARM_LATENCY_P99_MS": ("alarms.latency_p99_ms", whole(1, 3_600_000)),
    "ALARM_SETUP_TIME_ENABLED": ("alarms.setup_time_enabled", values.boolean),
    "ALARM_SETUP_TIME_SECONDS": ("alarms.setup_time_seconds", whole(1, 3600)),
    "SCHEDULED_SCALE_IN": ("schedule.enabled", values.boolean),
    "SCALE_IN_CRON": ("schedule.scale_in_cron", values.cron),
    "SCALE_OUT_CRON": ("schedule.scale_out_cron", values.cron),
    "SCHEDULE_TIMEZONE": ("schedule.timezone", values.timezone),
    "ASYNC_INFERENCE_ENABLED": ("async_inference.enabled", values.boolean),
    "ASYNC_MAX_CONCURRENT_INVOCATIONS": ("async_inference.max_concurrent_invocations", whole(1, 1000)),
    "FORCE_DESTROY": ("force_destroy", values.optional_boolean),
    "LOCAL_AWS_PORT": ("local.port", whole(1, 65535)),
    "LOCAL_AWS_ENFORCE_IAM": ("local.enforce_iam", values.boolean),
    "LOCAL_MODEL_ID": ("local.model_id", values.optional_model_id),
    "LOCAL_MODEL": ("local.model", values.choice(*LOCAL_MODEL_CHOICES)),
    "LOCAL_DTYPE": ("local.dtype", values.choice(*LOCAL_DTYPES)),
    "LLM_TWIN_STATE_DIR": ("state.dir", values.path),
    "SAGEMAKER_USER_CREDENTIALS": ("state.credentials_file", values.path),
    "LLM_TWIN_TERRAFORM_DIR": ("tooling.terraform_dir", values.path),
    "TF_CLI": ("tooling.terraform_binary", values.text),
    "TF_PLUGIN_DIR": ("tooling.plugin_dir", values.optional_path),
    "TF_PLUGIN_CACHE_DIR": ("tooling.plugin_cache_dir", values.optional_path),
    "GATEWAY_TOKEN": ("gateway.token", values.gateway_token),
    "GATEWAY_CORS_ORIGINS": ("gateway.cors_origins", values.origins),
    "GATEWAY_MAX_BODY_BYTES": ("gateway.max_body_bytes", whole(1024, 64 * 1024 * 1024)),
    "GATEWAY_HOST": ("gateway.host", values.host),
    "GATEWAY_PORT": ("gateway.port", whole(1, 65535)),
    "GATEWAY_HEADER_TIMEOUT_SECONDS": ("gateway.header_timeout", whole(1, 300)),
    "GATEWAY_BODY_TIMEOUT_SECONDS": ("gateway.body_timeout", whole(1, 3600)),
    "GATEWAY_MAX_CONNECTIONS": ("gateway.max_connections", whole(1, 10000)),
    "STATE_BACKEND": ("state.backend", values.choice("local", "s3")),
    "STATE_BUCKET": ("state.bucket", values.bucket),
    "COST_HOURS_PER_MONTH": ("cost.hours_per_month", whole(1, 744)),
    "COST_MONTHLY_BUDGET_USD": ("cost.monthly_budget", values.BoundedNumber(0, 10_000_000)),
    "MODEL_STORAGE_GB": ("cost.storage_gb", values.BoundedNumber(0, 100_000)),
    "PRICING_SOURCE": ("cost.pricing_source", values.choice("auto", "table")),
}

BACKEND_ONLY: dict[str, Backend] = {
    "TGI_VERSION": "tgi",
    "TGI_IMAGE_URI": "tgi",
    "MAX_INPUT_TOKENS": "tgi",
    "MAX_BATCH_TOTAL_TOKENS": "tgi",
    "MAX_BATCH_PREFILL_TOKENS": "tgi",
    "HF_MODEL_QUANTIZE": "tgi",
    "MESSAGES_API_ENABLED": "tgi",
    "VLLM_VERSION": "vllm",
    "VLLM_IMAGE_URI": "vllm",
    "VLLM_GPU_MEMORY_UTILIZATION": "vllm",
    "VLLM_MAX_NUM_SEQS": "vllm",
}
"""Settings only one SERVING_BACKEND reads; set to anything but the default on the other, they are
refused, never silently ignored. vLLM's max model length is MAX_TOTAL_TOKENS, so that one is shared."""
