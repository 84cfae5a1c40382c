"""vLLM's memory model against the figures vLLM itself logs for Llama-3.1-8B (config.json facts).

Referees, each a line vLLM printed (found with the search tool, quoted in the tests):
- "Model loading took 14.99 GiB memory" (Llama-3.1-8B-Instruct, bfloat16, one GPU);
- "Available KV cache memory: 19.28 GiB" then "GPU KV cache size: 157,936 tokens" (same model);
- "To serve at least one request with the model's max seq len (131072), (16.00 GiB KV cache is
  needed, which is larger than the available KV cache memory (4.21 GiB). Based on the available
  memory, the estimated maximum model length is 34480."
"""

from __future__ import annotations

import pytest

from llm_twin.config import build_settings
from llm_twin.control.preflight.checks import model_facts, run_checks
from llm_twin.control.preflight.fit import GIB
from llm_twin.control.preflight.vllm import (
    VllmMemory,
    check_vllm_fit,
    check_vllm_image,
    check_vllm_tensor_parallel,
    check_vllm_token_limits,
    vllm_memory,
)
from llm_twin.protocol import gpus
from tests.support.preflight import LLAMA_8B, LLAMA_70B, inputs

# HuggingFaceTB/SmolLM2-135M-Instruct's config.json (the local target's default model).
SMOLLM2_135M = {
    "architectures": ["LlamaForCausalLM"],
    "hidden_size": 576,
    "intermediate_size": 1536,
    "num_attention_heads": 9,
    "num_hidden_layers": 30,
    "num_key_value_heads": 3,
    "max_position_embeddings": 8192,
    "vocab_size": 49152,
    "tie_word_embeddings": True,
    "torch_dtype": "bfloat16",
}


def vllm(**values: object):
    return build_settings({"model.backend": "vllm", **values})


def _g5() -> gpus.InstanceGpus:
    row = gpus.gpus_of("ml.g5.2xlarge")
    assert row is not None
    return row


def test_the_weights_are_what_vllm_loads() -> None:
    memory = vllm_memory(vllm(), model_facts(LLAMA_8B, source="config.json"), _g5())
    assert memory.weights_bytes / GIB == pytest.approx(14.99, rel=0.005)  # "Model loading took 14.99 GiB"
    assert memory.kv_bytes_per_token == 128 * 1024  # 32 layers x 2 x 8 kv-heads x 128 x 2 B


def test_the_cache_holds_the_tokens_vllm_counts() -> None:
    memory = VllmMemory(
        gpu_bytes=19.28 * GIB, utilization=1, weights_bytes=0, kv_bytes_per_token=131072, kv_heads=8
    )
    assert memory.cache_tokens == 157_936  # "Available KV cache memory: 19.28 GiB" -> "157,936 tokens"


def test_one_full_context_request_and_the_estimated_length_are_vllms() -> None:
    memory = VllmMemory(
        gpu_bytes=4.21 * GIB, utilization=1, weights_bytes=0, kv_bytes_per_token=131072, kv_heads=8
    )
    assert memory.request_bytes(131072) == 16 * GIB  # "(16.00 GiB KV cache is needed"
    assert memory.max_model_len == 34480  # "the estimated maximum model length is 34480"


def test_8b_on_g5_2xlarge_fits_the_books_length_and_reports_the_concurrency() -> None:
    fit, kv, concurrency = check_vllm_fit(inputs(vllm(), LLAMA_8B))
    assert (fit.status, kv.status, concurrency.status) == ("OK", "OK", "OK")
    assert "one request of MAX_TOTAL_TOKENS=4096 needs 0.5 GiB" in kv.detail
    # 0.9 x 24 GiB - 14.96 GiB = 6.64 GiB of cache = 54,400 tokens = 13.28 requests of 4096.
    assert "VLLM_MAX_NUM_SEQS=256 full-length requests would need 128.0 GiB" in concurrency.detail
    assert "the cache holds 54400 tokens = 13.28x requests of 4096 tokens" in concurrency.detail
    assert "vLLM queues or preempts" in concurrency.detail


def test_the_models_full_context_does_not_fit_an_a10g() -> None:
    _, kv, concurrency = check_vllm_fit(inputs(vllm(**{"tokens.max_total_tokens": 131072}), LLAMA_8B))
    assert kv.status == "FAIL"
    assert "needs 16.0 GiB" in kv.detail and "estimated maximum model length 54400" in kv.detail
    assert kv.fix.startswith("set MAX_TOTAL_TOKENS <= 54400, raise VLLM_GPU_MEMORY_UTILIZATION")
    assert concurrency.status == "SKIP"


def test_a_low_memory_utilization_leaves_no_cache() -> None:
    fit, kv, _ = check_vllm_fit(inputs(vllm(**{"vllm.gpu_memory_utilization": 0.5}), LLAMA_8B))
    assert fit.status == "FAIL" and "No available memory for the cache blocks" in fit.detail
    assert kv.status == "SKIP"


def test_tensor_parallel_splits_the_weights_and_the_kv_heads() -> None:
    settings = vllm(**{"variant.instance_type": "ml.p4d.24xlarge"})
    row = gpus.gpus_of("ml.p4d.24xlarge")
    assert row is not None
    memory = vllm_memory(settings, model_facts(LLAMA_70B, source="config.json"), row)
    assert memory.kv_heads == 1  # 8 kv-heads over 8 GPUs
    assert memory.kv_bytes_per_token == 80 * 2 * 1 * 128 * 2
    assert [c.status for c in check_vllm_fit(inputs(settings, LLAMA_70B))] == ["OK", "OK", "OK"]


def test_inferentia_is_refused_for_the_cuda_image() -> None:
    fit = check_vllm_fit(inputs(vllm(**{"variant.instance_type": "ml.inf2.xlarge"}), SMOLLM2_135M))[0]
    assert fit.status == "FAIL" and "CUDA image" in fit.detail


def test_the_max_model_length_is_bounded_by_the_models_context() -> None:
    ok = check_vllm_token_limits(inputs(vllm(**{"tokens.max_total_tokens": 8192}), SMOLLM2_135M))
    assert ok.status == "OK" and "<= max_position_embeddings=8192" in ok.detail
    too_long = check_vllm_token_limits(inputs(vllm(**{"tokens.max_total_tokens": 8193}), SMOLLM2_135M))
    assert too_long.status == "FAIL" and too_long.fix == "set MAX_TOTAL_TOKENS <= 8192"


def test_tgis_rules_do_not_bind_vllm_in_preflight() -> None:
    settings = vllm(**{"tokens.max_total_tokens": 16384})  # above TGI's batch total of 8192
    assert check_vllm_token_limits(inputs(settings, LLAMA_8B)).status == "OK"


def test_the_image_is_checked_in_the_region() -> None:
    ok = check_vllm_image(inputs(vllm()))
    assert ok.status == "OK" and "huggingface-vllm:0.29.0-transformers5.15.0" in ok.detail
    elsewhere = vllm(
        **{"model.vllm_image_uri": "763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-vllm:x"}
    )
    assert check_vllm_image(inputs(elsewhere)).status == "FAIL"


def test_run_checks_picks_the_backends_rows() -> None:
    vllm_report = run_checks(inputs(vllm(), LLAMA_8B))
    assert vllm_report.by_name("concurrency").status == "OK"
    assert "vLLM's max model length" in vllm_report.by_name("token limits").detail
    tgi_report = run_checks(inputs(build_settings({}), LLAMA_8B))
    assert "concurrency" not in [c.name for c in tgi_report.checks]


def test_the_gpus_must_split_the_attention_heads_evenly() -> None:
    """SmolLM2-135M has 9 heads: vLLM refuses tensor parallel size 4 (a g5.12xlarge)."""
    four = vllm(**{"variant.instance_type": "ml.g5.12xlarge"})
    refused = check_vllm_tensor_parallel(inputs(four, SMOLLM2_135M))
    assert refused.status == "FAIL"
    assert (
        "'Total number of attention heads (9) must be divisible by tensor parallel size (4)'"
        in refused.detail
    )
    assert refused.fix.startswith("set SM_NUM_GPUS=3,")
    assert check_vllm_tensor_parallel(inputs(four, LLAMA_8B)).status == "OK"  # 32 heads
    assert run_checks(inputs(four, SMOLLM2_135M)).by_name("tensor parallel").status == "FAIL"
