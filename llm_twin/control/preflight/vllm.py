"""Preflight for SERVING_BACKEND=vllm: vLLM's memory model, its context limit and its image.

vLLM's memory model (research.md C3; vllm `v1/core/kv_cache_utils.py`): each GPU may use
VLLM_GPU_MEMORY_UTILIZATION of its memory; what the weights leave of that is the KV cache,
cut into blocks of BLOCK_SIZE tokens. At start-up vLLM refuses to serve unless ONE request
of the max model length (MAX_TOTAL_TOKENS) fits; VLLM_MAX_NUM_SEQS only caps the batch, so
the concurrency the cache allows is reported, not required. Activations and CUDA graphs,
which vLLM profiles at start-up, are not counted: the figures are an upper bound.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from llm_twin.config import Settings
from llm_twin.config.tokens import context_problem
from llm_twin.control.images import resolve_vllm_image
from llm_twin.control.preflight.facts import KV_DTYPE_BYTES, ModelFacts
from llm_twin.control.preflight.fit import GIB, gib, serving_bytes_per_parameter
from llm_twin.control.preflight.inputs import (
    CheckResult,
    PreflightInputs,
    explicit_image_check,
    facts_or_skip,
)
from llm_twin.protocol import gpus

BLOCK_SIZE = 16
"""vLLM's default --block-size on CUDA: the cache is handed out in blocks of this many tokens."""
THIN_MARGIN = 0.9
"""A request needing more than this share of the free cache leaves little for activations."""


@dataclass(frozen=True)
class VllmMemory:
    """One GPU's budget as vLLM sees it (every tensor-parallel rank holds the same share)."""

    gpu_bytes: float
    utilization: float
    weights_bytes: float
    """This GPU's share of the weights."""
    kv_bytes_per_token: int
    """This GPU's KV cache per token: layers x 2 x (kv-heads / tensor parallel size) x head-dim x 2 B."""
    kv_heads: int
    """KV heads on this GPU."""

    @property
    def budget(self) -> float:
        return self.gpu_bytes * self.utilization

    @property
    def available(self) -> float:
        """What the weights leave of the budget for the KV cache."""
        return self.budget - self.weights_bytes

    def request_bytes(self, max_model_len: int) -> int:
        """The cache one request of `max_model_len` tokens takes, in whole blocks."""
        return math.ceil(max_model_len / BLOCK_SIZE) * BLOCK_SIZE * self.kv_bytes_per_token

    @property
    def cache_tokens(self) -> int:
        """Tokens the cache holds: whole blocks only, as vLLM counts them."""
        blocks = int(max(self.available, 0) // (BLOCK_SIZE * self.kv_bytes_per_token))
        return blocks * BLOCK_SIZE

    @property
    def max_model_len(self) -> int:
        """The longest request that fits (vLLM's 'estimated maximum model length')."""
        return self.cache_tokens


def vllm_memory(settings: Settings, facts: ModelFacts, row: gpus.InstanceGpus) -> VllmMemory:
    """The per-GPU figures for `settings` on `row`'s GPUs."""
    tensor_parallel = min(
        gpus.sm_num_gpus(settings.variant.instance_type, settings.variant.num_gpus), row.gpu_count
    )
    kv_heads = max(1, facts.kv_heads // tensor_parallel)  # fewer heads than ranks: vLLM replicates them
    weights = facts.parameter_count * serving_bytes_per_parameter(facts.dtype, "") / tensor_parallel
    return VllmMemory(
        gpu_bytes=row.gpu_memory_gib * GIB,
        utilization=settings.vllm.gpu_memory_utilization,
        weights_bytes=weights,
        kv_bytes_per_token=facts.layers * 2 * kv_heads * facts.head_dim * KV_DTYPE_BYTES,
        kv_heads=kv_heads,
    )


def check_vllm_fit(inputs: PreflightInputs) -> list[CheckResult]:
    """Weights within the budget, one full-length request in the cache, and the concurrency left."""
    s = inputs.settings
    facts = facts_or_skip(inputs, "fit")
    if isinstance(facts, CheckResult):
        no_facts = "skipped: no model facts (see fit)"
        return [
            facts,
            CheckResult("kv cache", "SKIP", no_facts),
            CheckResult("concurrency", "SKIP", no_facts),
        ]
    row = gpus.gpus_of(s.variant.instance_type)
    if row is None or row.accelerator.startswith("AWS"):
        why = (
            f"{s.variant.instance_type} is not in the GPU table ({gpus.TABLE_DATE})"
            if row is None
            else f"{s.variant.instance_type} carries {row.accelerator}, and the huggingface-vllm DLC is a CUDA image"
        )
        first = CheckResult(
            "fit", "SKIP" if row is None else "FAIL", f"skipped: {why}" if row is None else why
        )
        return [first, CheckResult("kv cache", "SKIP", why), CheckResult("concurrency", "SKIP", why)]
    memory = vllm_memory(s, facts, row)
    utilization = s.vllm.gpu_memory_utilization
    per_gpu = f"VLLM_GPU_MEMORY_UTILIZATION={utilization:g} x {row.gpu_memory_gib:g} GiB ({row.accelerator}) = {gib(memory.budget)} per GPU"
    weights_text = f"{gib(memory.weights_bytes)} of weights per GPU ({facts.dtype}, from {facts.source})"
    bigger = gpus.smallest_fitting(
        (memory.weights_bytes * row.gpu_count + memory.request_bytes(s.tokens.max_total_tokens))
        / GIB
        / utilization
    )
    bigger_text = (
        f"an instance type with more GPU memory (e.g. {bigger.instance_type})"
        if bigger
        else "a bigger instance"
    )
    if memory.available <= 0:
        fit = CheckResult(
            "fit",
            "FAIL",
            f"{weights_text} >= {per_gpu}: vLLM stops with 'No available memory for the cache blocks'",
            f"raise VLLM_GPU_MEMORY_UTILIZATION, or pick {bigger_text}",
        )
        none_left = "skipped: the weights leave no cache"
        return [
            fit,
            CheckResult("kv cache", "SKIP", none_left),
            CheckResult("concurrency", "SKIP", none_left),
        ]
    fit = CheckResult(
        "fit", "OK", f"{weights_text} leave {gib(memory.available)} of {per_gpu} for the KV cache"
    )
    length = s.tokens.max_total_tokens
    needed = memory.request_bytes(length)
    kv_text = (
        f"one request of MAX_TOTAL_TOKENS={length} needs {gib(needed)} "
        f"({memory.kv_bytes_per_token / 1024:g} KiB/token per GPU: {facts.layers} layers x 2 x "
        f"{memory.kv_heads} kv-heads x {facts.head_dim} head-dim x {KV_DTYPE_BYTES} B)"
    )
    if needed > memory.available:
        kv = CheckResult(
            "kv cache",
            "FAIL",
            f"{kv_text}, more than the {gib(memory.available)} left: vLLM refuses to start "
            f"(estimated maximum model length {memory.max_model_len})",
            f"set MAX_TOTAL_TOKENS <= {memory.max_model_len}, raise VLLM_GPU_MEMORY_UTILIZATION, or pick {bigger_text}",
        )
        return [fit, kv, CheckResult("concurrency", "SKIP", "skipped: not even one request fits")]
    if needed > memory.available * THIN_MARGIN:
        kv = CheckResult(
            "kv cache",
            "WARN",
            f"{kv_text} of the {gib(memory.available)} left (> {THIN_MARGIN:.0%}): activations and CUDA graphs may not fit",
            f"set MAX_TOTAL_TOKENS <= {int(memory.max_model_len * THIN_MARGIN) // BLOCK_SIZE * BLOCK_SIZE}, or raise VLLM_GPU_MEMORY_UTILIZATION",
        )
    else:
        kv = CheckResult("kv cache", "OK", f"{kv_text} of the {gib(memory.available)} left")
    seqs = s.vllm.max_num_seqs
    concurrency = memory.cache_tokens / length
    all_full = f"VLLM_MAX_NUM_SEQS={seqs} full-length requests would need {gib(needed * seqs)}"
    held = f"the cache holds {memory.cache_tokens} tokens = {concurrency:.2f}x requests of {length} tokens"
    queued = (
        ""
        if concurrency >= seqs
        else ": past that, vLLM queues or preempts (shorter requests share the cache)"
    )
    return [fit, kv, CheckResult("concurrency", "OK", f"{all_full}; {held}{queued}")]


def check_vllm_token_limits(inputs: PreflightInputs) -> CheckResult:
    """MAX_TOTAL_TOKENS is vLLM's max model length; vLLM refuses one beyond the model's context."""
    limits = inputs.settings.tokens
    facts = inputs.model.facts
    context = facts.max_position_embeddings if facts else None
    problem = context_problem(limits, context)
    if problem is not None and facts is not None:
        return CheckResult(
            "token limits",
            "FAIL",
            f"{problem} ({facts.source}): vLLM refuses a max_model_len above the one config.json derives",
            f"set MAX_TOTAL_TOKENS <= {context}",
        )
    bound = f" <= max_position_embeddings={context}" if context else " (the model's context was not read)"
    return CheckResult(
        "token limits", "OK", f"MAX_TOTAL_TOKENS={limits.max_total_tokens} (vLLM's max model length){bound}"
    )


def check_vllm_tensor_parallel(inputs: PreflightInputs) -> CheckResult:
    """vLLM splits the attention heads evenly across the GPUs (ModelConfig.verify_with_parallel_config)."""
    s = inputs.settings
    facts = facts_or_skip(inputs, "tensor parallel")
    if isinstance(facts, CheckResult):
        return facts
    size = gpus.sm_num_gpus(s.variant.instance_type, s.variant.num_gpus)
    heads = facts.attention_heads
    if heads % size == 0:
        return CheckResult(
            "tensor parallel", "OK", f"{heads} attention heads split evenly over {size} GPU(s)"
        )
    fitting = [n for n in range(size, 0, -1) if heads % n == 0]
    return CheckResult(
        "tensor parallel",
        "FAIL",
        f"vLLM refuses to start: 'Total number of attention heads ({heads}) must be divisible by "
        f"tensor parallel size ({size})' ({facts.source})",
        f"set SM_NUM_GPUS={fitting[0]}, or pick an instance type whose GPU count divides {heads}",
    )


def check_vllm_image(inputs: PreflightInputs) -> CheckResult:
    s = inputs.settings
    if s.model.vllm_image_uri:
        return explicit_image_check("VLLM_IMAGE_URI", s.model.vllm_image_uri, s.region)
    image = resolve_vllm_image(s.model.vllm_version, s.region)
    uri = image.uri(s.region)
    if uri is None:
        return CheckResult(
            "image",
            "FAIL",
            f"vLLM {image.version} ({image.tag}) has no huggingface-vllm DLC in {s.region}",
            f"pick one of {', '.join(image.regions)}, or set VLLM_IMAGE_URI",
        )
    return CheckResult("image", "OK", f"vLLM {image.version} is offered in {s.region}: {uri}")
