"""Will it fit: the weights against the GPUs' memory, then the KV cache in what is left.

The model: weights = parameters x bytes per parameter as served (TGI serves float32
checkpoints in float16; quantization shrinks them), KV cache = MAX_BATCH_TOTAL_TOKENS x
layers x kv-heads x head-dim x 2 (K and V) x 2 bytes. Both must stay under
FIT_WARN_RATIO of the memory, which leaves TGI room for activations and CUDA graphs.
"""

from __future__ import annotations

from llm_twin.control.preflight.facts import KV_DTYPE_BYTES, dtype_bytes
from llm_twin.control.preflight.inputs import CheckResult, PreflightInputs, facts_or_skip
from llm_twin.protocol import gpus

GIB = 1024**3
FIT_WARN_RATIO = 0.9
"""Above this share of GPU memory TGI has little room for activations and CUDA graphs."""

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


def serving_bytes_per_parameter(dtype: str, quantize: str) -> float:
    """Bytes per weight on the GPU: TGI serves float32 checkpoints in float16."""
    if quantize:
        return QUANTIZED_BYTES.get(quantize, 1)
    return min(dtype_bytes(dtype), 2)


def gib(n: float) -> str:
    return f"{n / GIB:.1f} GiB"


def _billions(n: int) -> str:
    return f"{n / 1e9:.2f}B" if n >= 1e8 else f"{n / 1e6:.2f}M"


def check_fit(inputs: PreflightInputs) -> list[CheckResult]:
    """Weights against GPU memory, then the KV cache for MAX_BATCH_TOTAL_TOKENS in what is left."""
    s = inputs.settings
    facts = facts_or_skip(inputs, "fit")
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
    gpu_text = f"{used_gpus} x {row.accelerator} {row.gpu_memory_gib:g} GiB = {gib(memory)} ({gpus.TABLE_DATE} table)"
    weights_text = (
        f"{_billions(facts.parameter_count)} parameters x {per_param:g} B "
        f"({s.model.quantize or facts.dtype}) = {gib(weights)} from {facts.source}"
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
        f"= {gib(kv)}"
    )
    total_share = (weights + kv) / memory
    if weights + kv > memory:
        kv_check = CheckResult(
            "kv cache",
            "FAIL",
            f"{kv_text}, but only {gib(memory - weights)} is left after the weights",
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
