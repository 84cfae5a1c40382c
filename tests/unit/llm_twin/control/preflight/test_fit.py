"""The fit model: weights against GPU memory, then the KV cache in what is left."""

from __future__ import annotations

from llm_twin.config import Settings, build_settings
from llm_twin.control.preflight.fit import check_fit
from tests.support.preflight import LLAMA_8B, LLAMA_70B, inputs


def test_8b_on_g5_2xlarge_fits_with_the_book_limits() -> None:
    fit, kv = check_fit(inputs(Settings(), LLAMA_8B))
    assert (fit.status, kv.status) == ("OK", "OK")
    assert "1.0 GiB" in kv.detail  # 8192 tokens x 128 KiB


def test_kv_cache_above_90_percent_warns_and_past_the_memory_fails() -> None:
    warn = check_fit(inputs(build_settings({"tokens.max_batch_total_tokens": 60000}), LLAMA_8B))[1]
    assert warn.status == "WARN" and "MAX_BATCH_TOTAL_TOKENS <=" in warn.fix
    fail = check_fit(inputs(build_settings({"tokens.max_batch_total_tokens": 80000}), LLAMA_8B))[1]
    assert fail.status == "FAIL" and "MAX_BATCH_TOTAL_TOKENS <=" in fail.fix


def test_70b_fits_on_p4d_but_not_g5() -> None:
    assert check_fit(inputs(Settings(), LLAMA_70B))[0].status == "FAIL"
    fit, _ = check_fit(inputs(build_settings({"variant.instance_type": "ml.p4d.24xlarge"}), LLAMA_70B))
    assert fit.status == "OK" and "8 x NVIDIA A100 40GB" in fit.detail


def test_quantization_shrinks_the_weights() -> None:
    settings = build_settings({"variant.instance_type": "ml.g6e.12xlarge", "model.quantize": "awq"})
    fit, _ = check_fit(inputs(settings, LLAMA_70B))
    assert fit.status == "OK" and "x 0.5 B (awq)" in fit.detail
