"""Preflight: the failures an endpoint would reach after 10-60 minutes, found before apply.

Pure logic only: each check takes the settings and what the lookups found
(`llm_twin.control.preflight.lookups` does the I/O) and returns a typed `CheckResult` with the
fix. A lookup that could not run makes its check SKIP or WARN, never crash: preflight
exists to save time, so it must not become the thing that blocks a deploy by accident.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from llm_twin.config import Settings
from llm_twin.control.images import resolve_tgi_image
from llm_twin.protocol import gpus
from llm_twin.protocol.quota_codes import SERVICE_CODE

Status = Literal["OK", "WARN", "FAIL", "SKIP"]

GIB = 1024**3
FIT_WARN_RATIO = 0.9
"""Above this share of GPU memory TGI has little room for activations and CUDA graphs."""
HUB_DOWNLOAD_MB_S = 50.0
"""Conservative Hub -> instance throughput (MB/s); real downloads are often faster."""
S3_DOWNLOAD_MB_S = 100.0
"""Conservative S3 -> instance throughput (MB/s) for MODEL_DATA_S3_URI."""
LOAD_MB_S = 200.0
"""Conservative disk -> GPU load throughput (MB/s) for safetensors."""
KV_DTYPE_BYTES = 2
"""TGI keeps the KV cache in float16/bfloat16 whatever the weights' dtype."""

DTYPE_BYTES: dict[str, float] = {
    "float32": 4,
    "float": 4,
    "float16": 2,
    "half": 2,
    "bfloat16": 2,
    "float8_e4m3fn": 1,
    "float8_e5m2": 1,
    "int8": 1,
}
# Bytes per parameter on the GPU with HF_MODEL_QUANTIZE; the 4-bit schemes are about half a byte.
QUANTIZED_BYTES: dict[str, float] = {
    "awq": 0.5,
    "gptq": 0.5,
    "marlin": 0.5,
    "exl2": 0.5,
    "bitsandbytes-nf4": 0.5,
    "bitsandbytes-fp4": 0.5,
    "bitsandbytes": 1,
    "eetq": 1,
    "fp8": 1,
}


@dataclass(frozen=True)
class CheckResult:
    """One row of the preflight table."""

    name: str
    status: Status
    detail: str
    """What was found, with the figures behind the verdict."""
    fix: str = ""
    """What to change when the status is WARN or FAIL."""


@dataclass(frozen=True)
class PreflightReport:
    checks: tuple[CheckResult, ...]

    @property
    def failed(self) -> bool:
        return any(c.status == "FAIL" for c in self.checks)

    def by_name(self, name: str) -> CheckResult:
        return next(c for c in self.checks if c.name == name)


@dataclass(frozen=True)
class ModelFacts:
    """What config.json (and the weights' sizes, when known) say about the model."""

    source: str
    """Where config.json was read, e.g. 'local checkpoint /models/twin' or 's3://b/models/x/1/'."""
    parameter_count: int
    checkpoint_bytes: int
    """Bytes to download: the index's total_size, the safetensors files, or parameters x dtype."""
    dtype: str
    layers: int
    kv_heads: int
    head_dim: int
    max_position_embeddings: int | None

    @property
    def kv_bytes_per_token(self) -> int:
        """layers x kv-heads x head-dim x 2 (K and V) x dtype bytes."""
        return self.layers * self.kv_heads * self.head_dim * 2 * KV_DTYPE_BYTES


@dataclass(frozen=True)
class IdentityLookup:
    account: str | None = None
    arn: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class QuotaLookup:
    """The '<type> for endpoint usage' quota, or why it could not be read."""

    code: str | None = None
    name: str = ""
    value: float | None = None
    error: str | None = None
    denied: bool = False
    """IAM said no: the check warns instead of failing."""


@dataclass(frozen=True)
class ModelLookup:
    facts: ModelFacts | None = None
    skipped: str | None = None
    """Why config.json was not read (the Hub is unreachable, a path only the container has...)."""
    error: str | None = None
    """config.json was found but could not be understood."""


@dataclass(frozen=True)
class HubLookup:
    """What the Hub said about a repo id; `reachable` False means it did not answer in time."""

    reachable: bool = False
    gated: bool | None = None
    status: int | None = None
    """HTTP status of the model-info request (401/403/404 for private, gated or missing)."""


@dataclass(frozen=True)
class PreflightInputs:
    settings: Settings
    identity: IdentityLookup
    quota: QuotaLookup
    model: ModelLookup
    hub: HubLookup
    is_hub_model: bool
    """HF_MODEL_ID names a Hub repo that TGI downloads at start-up (no MODEL_DATA_S3_URI)."""


# -- config.json -> facts ------------------------------------------------------------------------


def _int_field(config: Mapping[str, Any], *names: str) -> int | None:
    for name in names:
        value = config.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def dtype_bytes(dtype: str) -> float:
    return DTYPE_BYTES.get(dtype, 2)


def model_facts(
    config: Mapping[str, Any],
    *,
    source: str,
    index_total_size: int | None = None,
    weights_bytes: int | None = None,
) -> ModelFacts:
    """Facts from a decoder's config.json; ValueError names the field that is missing.

    The parameter count comes from the index's `total_size` when there is one (exact);
    otherwise it is computed from the shapes of a Llama-style decoder (embeddings, attention
    with grouped KV heads, gated MLP, experts when the config has them).
    """
    text = config.get("text_config")
    if isinstance(text, Mapping) and "hidden_size" not in config:
        config = {**text, **{k: v for k, v in config.items() if k in ("torch_dtype", "dtype")}}
    hidden = _int_field(config, "hidden_size", "n_embd", "d_model")
    layers = _int_field(config, "num_hidden_layers", "n_layer", "num_layers")
    heads = _int_field(config, "num_attention_heads", "n_head")
    if hidden is None or layers is None or heads is None:
        missing = [
            n
            for n, v in (
                ("hidden_size", hidden),
                ("num_hidden_layers", layers),
                ("num_attention_heads", heads),
            )
            if v is None
        ]
        raise ValueError(f"config.json has no positive {', '.join(missing)}")
    kv_heads = _int_field(config, "num_key_value_heads") or heads
    head_dim = _int_field(config, "head_dim") or hidden // heads
    dtype = str(config.get("torch_dtype") or config.get("dtype") or "bfloat16")
    if index_total_size:
        parameters = int(index_total_size / dtype_bytes(dtype))
    else:
        vocab = _int_field(config, "vocab_size") or 32000
        intermediate = _int_field(config, "intermediate_size", "n_inner") or 4 * hidden
        experts = _int_field(config, "num_local_experts", "num_experts") or 1
        attention = hidden * heads * head_dim * 2 + hidden * kv_heads * head_dim * 2
        mlp = 3 * hidden * intermediate * experts + (hidden * experts if experts > 1 else 0)
        embeddings = vocab * hidden * (1 if config.get("tie_word_embeddings") else 2)
        parameters = embeddings + layers * (attention + mlp + 2 * hidden) + hidden
    checkpoint = index_total_size or weights_bytes or int(parameters * dtype_bytes(dtype))
    return ModelFacts(
        source=source,
        parameter_count=parameters,
        checkpoint_bytes=checkpoint,
        dtype=dtype,
        layers=layers,
        kv_heads=kv_heads,
        head_dim=head_dim,
        max_position_embeddings=_int_field(config, "max_position_embeddings", "n_positions", "max_seq_len"),
    )


def serving_bytes_per_parameter(dtype: str, quantize: str) -> float:
    """Bytes per weight on the GPU: TGI serves float32 checkpoints in float16."""
    if quantize:
        return QUANTIZED_BYTES.get(quantize, 1)
    return min(dtype_bytes(dtype), 2)


# -- the checks ------------------------------------------------------------------------------------


def _gib(n: float) -> str:
    return f"{n / GIB:.1f} GiB"


def _billions(n: int) -> str:
    return f"{n / 1e9:.2f}B" if n >= 1e8 else f"{n / 1e6:.2f}M"


def check_identity(inputs: PreflightInputs) -> CheckResult:
    region = inputs.settings.region
    found = inputs.identity
    if found.error or not found.account:
        return CheckResult(
            "credentials",
            "FAIL",
            f"STS GetCallerIdentity failed in {region}: {found.error}",
            "check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) and AWS_REGION; for the deployer's "
            "key, `llm-twin bootstrap --rotate-key`",
        )
    return CheckResult("credentials", "OK", f"account {found.account} in {region}, as {found.arn}")


def needed_instances(settings: Settings) -> int:
    """Instances the endpoint may run at once: autoscaling's maximum when it owns the count."""
    return (
        settings.autoscaling.max_capacity if settings.autoscaling.enabled else settings.variant.instance_count
    )


def check_quota(inputs: PreflightInputs) -> CheckResult:
    s = inputs.settings
    quota = inputs.quota
    needed = needed_instances(s)
    if inputs.identity.error:
        return CheckResult("quota", "SKIP", "skipped: the credentials were not accepted")
    label = f"'{quota.name}'" + (f" ({quota.code})" if quota.code else "")
    if quota.denied:
        return CheckResult(
            "quota",
            "WARN",
            f"could not read {label}: the caller may not call Service Quotas ({quota.error})",
            "allow servicequotas:GetServiceQuota and servicequotas:ListServiceQuotas, or check the quota "
            "in the Service Quotas console",
        )
    if quota.value is None:
        return CheckResult(
            "quota",
            "WARN",
            f"could not read {label}: {quota.error or 'no such quota'}",
            f"check '{quota.name}' in the Service Quotas console ({s.region})",
        )
    value = int(quota.value)
    request = (
        f"aws service-quotas request-service-quota-increase --service-code {SERVICE_CODE} "
        f"--quota-code {quota.code} --desired-value {max(needed, 1)} --region {s.region}"
        if quota.code
        else f"request an increase of '{quota.name}' in the Service Quotas console ({s.region})"
    )
    what = "AUTOSCALING_MAX_CAPACITY" if s.autoscaling.enabled else "SAGEMAKER_INSTANCE_COUNT"
    if value < needed:
        return CheckResult(
            "quota", "FAIL", f"{label} is {value}, but {what} needs {needed} in {s.region}", request
        )
    if value < 2 * needed:
        return CheckResult(
            "quota",
            "WARN",
            f"{label} is {value}: enough for {needed} instance(s), but an endpoint update starts the new "
            f"fleet before the old one stops, which needs {2 * needed}",
            request.replace(f"--desired-value {max(needed, 1)}", f"--desired-value {2 * needed}"),
        )
    return CheckResult(
        "quota", "OK", f"{label} is {value}; {what} needs {needed} ({2 * needed} during updates)"
    )


def _facts_or_skip(inputs: PreflightInputs, name: str) -> ModelFacts | CheckResult:
    model = inputs.model
    if model.facts is not None:
        return model.facts
    if model.error:
        return CheckResult(
            name, "WARN", f"config.json could not be used: {model.error}", "check the checkpoint"
        )
    return CheckResult(name, "SKIP", f"skipped: {model.skipped}")


def check_fit(inputs: PreflightInputs) -> list[CheckResult]:
    """Weights against GPU memory, then the KV cache for MAX_BATCH_TOTAL_TOKENS in what is left."""
    s = inputs.settings
    facts = _facts_or_skip(inputs, "fit")
    if isinstance(facts, CheckResult):
        return [facts, CheckResult("kv cache", "SKIP", "skipped: no model facts (see fit)")]
    row = gpus.gpus_of(s.variant.instance_type)
    if row is None:
        skipped = CheckResult(
            "fit",
            "SKIP",
            f"skipped: {s.variant.instance_type} is not in the GPU table ({gpus.TABLE_DATE})",
        )
        return [skipped, CheckResult("kv cache", "SKIP", skipped.detail)]
    used_gpus = min(gpus.sm_num_gpus(s.variant.instance_type, s.variant.num_gpus), row.gpu_count)
    memory = used_gpus * row.gpu_memory_gib * GIB
    per_param = serving_bytes_per_parameter(facts.dtype, s.model.quantize)
    weights = facts.parameter_count * per_param
    kv = facts.kv_bytes_per_token * s.tokens.max_batch_total_tokens
    gpu_text = f"{used_gpus} x {row.accelerator} {row.gpu_memory_gib:g} GiB = {_gib(memory)} ({gpus.TABLE_DATE} table)"
    weights_text = (
        f"{_billions(facts.parameter_count)} parameters x {per_param:g} B "
        f"({s.model.quantize or facts.dtype}) = {_gib(weights)} from {facts.source}"
    )
    bigger = gpus.smallest_fitting((weights + kv) / GIB / FIT_WARN_RATIO)
    bigger_text = (
        f"an instance type with more GPU memory (e.g. {bigger.instance_type})"
        if bigger
        else "a bigger instance"
    )
    if weights > memory:
        fit = CheckResult(
            "fit",
            "FAIL",
            f"the weights do not fit: {weights_text} > {gpu_text}",
            f"pick {bigger_text}, or set HF_MODEL_QUANTIZE (awq/gptq halve it again)",
        )
        return [fit, CheckResult("kv cache", "SKIP", "skipped: the weights alone do not fit")]
    share = weights / memory
    if share > FIT_WARN_RATIO:
        fit = CheckResult(
            "fit",
            "WARN",
            f"{weights_text} = {share:.0%} of {gpu_text}: almost nothing is left for the KV cache",
            f"pick {bigger_text}, or set HF_MODEL_QUANTIZE",
        )
    else:
        fit = CheckResult("fit", "OK", f"{weights_text} = {share:.0%} of {gpu_text}")
    # The most tokens whose KV cache keeps weights + cache within FIT_WARN_RATIO of the memory.
    headroom_tokens = max(int((memory * FIT_WARN_RATIO - weights) // facts.kv_bytes_per_token), 0)
    limit_fix = (
        f"set MAX_BATCH_TOTAL_TOKENS <= {headroom_tokens} (and MAX_TOTAL_TOKENS at most that), or pick {bigger_text}"
        if headroom_tokens >= s.tokens.max_total_tokens
        else f"pick {bigger_text}, or lower MAX_TOTAL_TOKENS and MAX_BATCH_TOTAL_TOKENS"
    )
    kv_text = (
        f"MAX_BATCH_TOTAL_TOKENS={s.tokens.max_batch_total_tokens} x {facts.kv_bytes_per_token / 1024:.0f} KiB/token "
        f"({facts.layers} layers x {facts.kv_heads} kv-heads x {facts.head_dim} head-dim x 2 x {KV_DTYPE_BYTES} B) "
        f"= {_gib(kv)}"
    )
    total_share = (weights + kv) / memory
    if weights + kv > memory:
        kv_check = CheckResult(
            "kv cache",
            "FAIL",
            f"{kv_text}, but only {_gib(memory - weights)} is left after the weights",
            limit_fix,
        )
    elif total_share > FIT_WARN_RATIO:
        kv_check = CheckResult(
            "kv cache",
            "WARN",
            f"{kv_text}; weights + KV cache use {total_share:.0%} of GPU memory (> {FIT_WARN_RATIO:.0%})",
            limit_fix,
        )
    else:
        kv_check = CheckResult("kv cache", "OK", f"{kv_text}; weights + KV cache use {total_share:.0%}")
    return [fit, kv_check]


def check_token_limits(inputs: PreflightInputs) -> CheckResult:
    s = inputs.settings
    problems: list[str] = []
    fixes: list[str] = []
    if not s.tokens.max_input_tokens < s.tokens.max_total_tokens:
        problems.append(
            f"MAX_INPUT_TOKENS={s.tokens.max_input_tokens} is not < MAX_TOTAL_TOKENS={s.tokens.max_total_tokens}"
        )
        fixes.append("lower MAX_INPUT_TOKENS below MAX_TOTAL_TOKENS")
    if s.tokens.max_batch_prefill_tokens < s.tokens.max_input_tokens:
        problems.append(
            f"MAX_BATCH_PREFILL_TOKENS={s.tokens.max_batch_prefill_tokens} < MAX_INPUT_TOKENS={s.tokens.max_input_tokens}"
        )
        fixes.append(f"set MAX_BATCH_PREFILL_TOKENS >= {s.tokens.max_input_tokens}")
    facts = inputs.model.facts
    context = facts.max_position_embeddings if facts else None
    if context is not None and s.tokens.max_total_tokens > context:
        problems.append(
            f"MAX_TOTAL_TOKENS={s.tokens.max_total_tokens} > the model's max_position_embeddings={context} ({facts.source})"
        )
        fixes.append(f"set MAX_TOTAL_TOKENS <= {context} and MAX_INPUT_TOKENS below it")
    if problems:
        return CheckResult("token limits", "FAIL", "; ".join(problems), "; ".join(fixes))
    bound = f" <= max_position_embeddings={context}" if context else " (the model's context was not read)"
    return CheckResult(
        "token limits",
        "OK",
        f"MAX_INPUT_TOKENS={s.tokens.max_input_tokens} < MAX_TOTAL_TOKENS={s.tokens.max_total_tokens}{bound}; "
        f"MAX_BATCH_PREFILL_TOKENS={s.tokens.max_batch_prefill_tokens} >= MAX_INPUT_TOKENS",
    )


def check_num_gpus(inputs: PreflightInputs) -> CheckResult:
    s = inputs.settings
    row = gpus.gpus_of(s.variant.instance_type)
    rendered = gpus.sm_num_gpus(s.variant.instance_type, s.variant.num_gpus)
    if row is None:
        return CheckResult(
            "SM_NUM_GPUS",
            "WARN",
            f"SM_NUM_GPUS={rendered}: {s.variant.instance_type} is not in the GPU table ({gpus.TABLE_DATE})",
            "check the instance type's GPU count and set SM_NUM_GPUS to it",
        )
    if s.variant.num_gpus is None:
        return CheckResult(
            "SM_NUM_GPUS",
            "OK",
            f"derived {rendered} from {s.variant.instance_type} ({row.gpu_count} x {row.accelerator})",
        )
    if s.variant.num_gpus > row.gpu_count:
        return CheckResult(
            "SM_NUM_GPUS",
            "FAIL",
            f"SM_NUM_GPUS={s.variant.num_gpus}, but {s.variant.instance_type} has {row.gpu_count} x {row.accelerator}: TGI cannot start",
            f"set SM_NUM_GPUS={row.gpu_count}, or leave it unset to derive it",
        )
    if s.variant.num_gpus < row.gpu_count:
        return CheckResult(
            "SM_NUM_GPUS",
            "WARN",
            f"SM_NUM_GPUS={s.variant.num_gpus} leaves {row.gpu_count - s.variant.num_gpus} of {row.gpu_count} GPUs idle",
            f"set SM_NUM_GPUS={row.gpu_count}, leave it unset, or pick a smaller instance type",
        )
    return CheckResult(
        "SM_NUM_GPUS", "OK", f"SM_NUM_GPUS={s.variant.num_gpus} matches {s.variant.instance_type}"
    )


def check_gated(inputs: PreflightInputs) -> CheckResult:
    s = inputs.settings
    if not inputs.is_hub_model:
        where = s.model.data_s3_uri or s.model.hf_model_id
        return CheckResult("gated model", "OK", f"the weights come from {where}, not the Hub")
    if s.model.hf_token:
        return CheckResult("gated model", "OK", f"HF_TOKEN is set for {s.model.hf_model_id}")
    hub = inputs.hub
    if hub.reachable and hub.gated is False:
        return CheckResult("gated model", "OK", f"{s.model.hf_model_id} is not gated on the Hub")
    if hub.reachable and (hub.gated or hub.status in (401, 403)):
        reason = "is gated on the Hub" if hub.gated else f"needs a token (Hub answered {hub.status})"
    elif hub.reachable and hub.status == 404:
        reason = "was not found on the Hub (private, misspelt, or gated)"
    else:
        reason = "may be gated (the Hub did not answer, so it could not be asked)"
    return CheckResult(
        "gated model",
        "WARN",
        f"{s.model.hf_model_id} {reason} and HF_TOKEN is empty: a gated download fails at start-up",
        "set HF_TOKEN to a token that has accepted the model's licence",
    )


def check_image(inputs: PreflightInputs) -> CheckResult:
    s = inputs.settings
    if s.model.image_uri:
        marker = f".dkr.ecr.{s.region}."
        if ".dkr.ecr." in s.model.image_uri and marker not in s.model.image_uri:
            return CheckResult(
                "image",
                "FAIL",
                f"TGI_IMAGE_URI={s.model.image_uri} is in another region than AWS_REGION={s.region}",
                "SageMaker pulls only from ECR in its own region: use that region's image",
            )
        return CheckResult("image", "OK", f"explicit TGI_IMAGE_URI={s.model.image_uri}")
    image = resolve_tgi_image(s.model.tgi_version, s.region)
    uri = image.uri(s.region)
    if uri is None:
        return CheckResult(
            "image",
            "FAIL",
            f"TGI {image.version} ({image.tag}) has no DLC in {s.region}",
            "pick another AWS_REGION or TGI_VERSION, or set TGI_IMAGE_URI",
        )
    return CheckResult("image", "OK", f"TGI {image.version} is offered in {s.region}: {uri}")


def _seconds(nbytes: float, mb_s: float) -> int:
    return math.ceil(nbytes / (mb_s * 1e6))


def check_health_timeout(inputs: PreflightInputs) -> CheckResult:
    """The container must download (from the Hub) and load within the health-check timeout."""
    s = inputs.settings
    facts = _facts_or_skip(inputs, "health timeout")
    if isinstance(facts, CheckResult):
        return CheckResult("health timeout", "SKIP", "skipped: the weights' size is unknown (see fit)")
    size = facts.checkpoint_bytes
    load = _seconds(size, LOAD_MB_S)
    if s.model.data_s3_uri:
        download = _seconds(size, S3_DOWNLOAD_MB_S)
        basis = (
            f"{_gib(size)} at {S3_DOWNLOAD_MB_S:g} MB/s from S3 = {download} s "
            f"(MODEL_DOWNLOAD_TIMEOUT={s.variant.download_timeout}), load at {LOAD_MB_S:g} MB/s = {load} s"
        )
        if download > s.variant.download_timeout:
            return CheckResult(
                "health timeout",
                "FAIL",
                f"the download may outlast MODEL_DOWNLOAD_TIMEOUT: {basis}",
                f"set MODEL_DOWNLOAD_TIMEOUT >= {min(download * 2, 3600)}",
            )
        needed = load
    else:
        download = _seconds(size, HUB_DOWNLOAD_MB_S) if inputs.is_hub_model else 0
        needed = download + load
        source = (
            f"at {HUB_DOWNLOAD_MB_S:g} MB/s from the Hub = {download} s + " if inputs.is_hub_model else ""
        )
        basis = f"{_gib(size)} {source}load at {LOAD_MB_S:g} MB/s = {load} s"
    if needed > s.variant.health_check_timeout:
        advice = (
            f"set HEALTH_CHECK_TIMEOUT >= {needed}"
            if needed <= 3600
            else "ship the weights with MODEL_DATA_S3_URI (downloaded before the health check) or a smaller model"
        )
        return CheckResult(
            "health timeout",
            "FAIL",
            f"HEALTH_CHECK_TIMEOUT={s.variant.health_check_timeout} s < {needed} s estimated ({basis})",
            advice,
        )
    return CheckResult(
        "health timeout",
        "OK",
        f"HEALTH_CHECK_TIMEOUT={s.variant.health_check_timeout} s >= {needed} s estimated ({basis})",
    )


def run_checks(inputs: PreflightInputs) -> PreflightReport:
    """Every check, in the order the table shows them."""
    checks = [
        check_identity(inputs),
        check_quota(inputs),
        *check_fit(inputs),
        check_token_limits(inputs),
        check_num_gpus(inputs),
        check_gated(inputs),
        check_image(inputs),
        check_health_timeout(inputs),
    ]
    return PreflightReport(tuple(checks))
