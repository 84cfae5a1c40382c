"""config.json -> ModelFacts: parameters, download size, KV bytes per token."""

from __future__ import annotations

import pytest

from llm_twin.control.preflight.facts import model_facts
from tests.support.preflight import LLAMA_8B, LLAMA_70B


def test_parameters_and_kv_bytes_come_from_the_config() -> None:
    facts = model_facts(LLAMA_70B, source="x")
    assert facts.parameter_count == 70_553_706_496  # Llama 3 70B: 70.55B
    assert facts.kv_bytes_per_token == 80 * 8 * 128 * 2 * 2
    assert facts.checkpoint_bytes == facts.parameter_count * 2


def test_the_index_total_size_wins_over_the_estimate() -> None:
    facts = model_facts(LLAMA_8B, source="x", index_total_size=16_060_522_496)
    assert facts.parameter_count == 8_030_261_248
    assert facts.checkpoint_bytes == 16_060_522_496


def test_a_config_without_shapes_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="num_hidden_layers"):
        model_facts({"hidden_size": 8, "num_attention_heads": 2}, source="x")
