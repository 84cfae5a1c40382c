"""Preflight: the failures an endpoint would reach after 10-60 minutes, found before apply.

Pure logic only: each check takes the settings and what the lookups found
(`llm_twin.control.preflight.lookups` does the I/O) and returns a typed `CheckResult` with the
fix. A lookup that could not run makes its check SKIP or WARN, never crash: preflight
exists to save time, so it must not become the thing that blocks a deploy by accident.
"""

from __future__ import annotations

import math

from llm_twin.config import Settings
from llm_twin.config.tokens import TOKEN_RULES, broken_rules, context_problem
from llm_twin.control.images import resolve_tgi_image
from llm_twin.control.preflight.facts import ModelFacts, model_facts
from llm_twin.control.preflight.fit import check_fit, gib
from llm_twin.control.preflight.inputs import (
    CheckResult,
    HubLookup,
    IdentityLookup,
    ModelLookup,
    PreflightInputs,
    PreflightReport,
    QuotaLookup,
    Status,
    explicit_image_check,
    facts_or_skip,
)
from llm_twin.control.preflight.vllm import (
    check_vllm_fit,
    check_vllm_image,
    check_vllm_tensor_parallel,
    check_vllm_token_limits,
)
from llm_twin.protocol import gpus
from llm_twin.protocol.quota_codes import SERVICE_CODE

# The types and the fit check are re-exported: a caller runs preflight from this one module.
__all__ = [
    "CheckResult",
    "HubLookup",
    "IdentityLookup",
    "ModelFacts",
    "ModelLookup",
    "PreflightInputs",
    "PreflightReport",
    "QuotaLookup",
    "Status",
    "check_fit",
    "model_facts",
    "run_checks",
]

HUB_DOWNLOAD_MB_S = 50.0
"""Conservative Hub -> instance throughput (MB/s); real downloads are often faster."""
S3_DOWNLOAD_MB_S = 100.0
"""Conservative S3 -> instance throughput (MB/s) for MODEL_DATA_S3_URI."""
LOAD_MB_S = 200.0
"""Conservative disk -> GPU load throughput (MB/s) for safetensors."""


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


def check_token_limits(inputs: PreflightInputs) -> CheckResult:
    """TGI's token-limit rules (owned by `llm_twin.config.tokens`), and the model's context."""
    limits = inputs.settings.tokens
    broken = broken_rules(limits)
    problems = [rule.message(limits) for rule in broken]
    fixes = [rule.fix(limits) for rule in broken]
    facts = inputs.model.facts
    context = facts.max_position_embeddings if facts else None
    too_long = context_problem(limits, context)
    if too_long is not None and facts is not None:
        problems.append(f"{too_long} ({facts.source})")
        fixes.append(f"set MAX_TOTAL_TOKENS <= {context} and MAX_INPUT_TOKENS below it")
    if problems:
        return CheckResult("token limits", "FAIL", "; ".join(problems), "; ".join(fixes))
    bound = (
        f"; MAX_TOTAL_TOKENS <= max_position_embeddings={context}"
        if context
        else " (the model's context was not read)"
    )
    return CheckResult(
        "token limits",
        "OK",
        f"MAX_INPUT_TOKENS={limits.max_input_tokens}, MAX_TOTAL_TOKENS={limits.max_total_tokens}, "
        f"MAX_BATCH_PREFILL_TOKENS={limits.max_batch_prefill_tokens}, "
        f"MAX_BATCH_TOTAL_TOKENS={limits.max_batch_total_tokens} keep TGI's {len(TOKEN_RULES)} rules{bound}",
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
            f"SM_NUM_GPUS={s.variant.num_gpus}, but {s.variant.instance_type} has {row.gpu_count} x {row.accelerator}: "
            f"{'vLLM' if s.model.backend == 'vllm' else 'TGI'} cannot start",
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
        return explicit_image_check("TGI_IMAGE_URI", s.model.image_uri, s.region)
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
    facts = facts_or_skip(inputs, "health timeout")
    if isinstance(facts, CheckResult):
        return CheckResult("health timeout", "SKIP", "skipped: the weights' size is unknown (see fit)")
    size = facts.checkpoint_bytes
    load = _seconds(size, LOAD_MB_S)
    if s.model.data_s3_uri:
        download = _seconds(size, S3_DOWNLOAD_MB_S)
        basis = (
            f"{gib(size)} at {S3_DOWNLOAD_MB_S:g} MB/s from S3 = {download} s "
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
        basis = f"{gib(size)} {source}load at {LOAD_MB_S:g} MB/s = {load} s"
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
    """Every check, in the order the table shows them; fit, token limits and image per backend."""
    vllm = inputs.settings.model.backend == "vllm"
    checks = [
        check_identity(inputs),
        check_quota(inputs),
        *(check_vllm_fit(inputs) if vllm else check_fit(inputs)),
        check_vllm_token_limits(inputs) if vllm else check_token_limits(inputs),
        check_num_gpus(inputs),
        *([check_vllm_tensor_parallel(inputs)] if vllm else []),
        check_gated(inputs),
        check_vllm_image(inputs) if vllm else check_image(inputs),
        check_health_timeout(inputs),
    ]
    return PreflightReport(tuple(checks))
