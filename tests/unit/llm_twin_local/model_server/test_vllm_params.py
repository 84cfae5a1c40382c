"""vLLM's bodies read and planned: its order (shape, then length, then sampling, then what the
stand-in's engine cannot serve), its defaults, and the model's generation_config.json under them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llm_twin_local.model_server.vllm_params import Defaults, Refusal, plan, read_chat, read_completion

NONE = Defaults()


def refusal(call) -> Refusal:  # type: ignore[no-untyped-def]
    with pytest.raises(Refusal) as caught:
        call()
    return caught.value


def test_a_completion_defaults_to_16_tokens_and_samples_at_temperature_one() -> None:
    request = read_completion({"prompt": "hi"}, NONE)
    granted, params = plan(request, [1, 2, 3], 100, NONE)
    assert granted == 16 and params.max_new_tokens == 16
    assert params.do_sample and params.temperature == 1.0 and params.top_p is None


def test_a_null_max_tokens_is_the_default_too() -> None:
    assert read_completion({"prompt": "hi", "max_tokens": None}, NONE).max_tokens == 16


def test_a_chat_without_max_tokens_may_use_the_rest_of_the_context() -> None:
    request = read_chat({"messages": [{"role": "user", "content": "hi"}]}, NONE)
    assert plan(request, [1] * 30, 100, NONE)[0] == 70
    later = read_chat(
        {"messages": [{"role": "user", "content": "hi"}], "max_completion_tokens": 5, "max_tokens": 9}, NONE
    )
    assert plan(later, [1] * 30, 100, NONE)[0] == 5


def test_temperature_zero_is_greedy_whatever_top_p_says() -> None:
    _, params = plan(
        read_completion({"prompt": "hi", "temperature": 0, "top_p": 0.5, "seed": 3}, NONE), [1], 100, NONE
    )
    assert not params.do_sample and params.top_p is None and params.seed is None


def test_length_is_checked_before_sampling_and_sampling_before_the_engines_limits() -> None:
    body = {"prompt": "hi", "max_tokens": 500, "top_p": 7, "logprobs": 3}
    assert refusal(lambda: plan(read_completion(body, NONE), [1], 100, NONE)).problem.param == "max_tokens"
    body["max_tokens"] = 5
    assert refusal(lambda: plan(read_completion(body, NONE), [1], 100, NONE)).problem.param == "top_p"
    del body["top_p"]
    assert refusal(lambda: plan(read_completion(body, NONE), [1], 100, NONE)).problem.status == 501


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (
            {"prompt": "hi", "stream_options": {"include_usage": True}},
            "Stream options can only be defined when `stream=True`.",
        ),
        ({"prompt": "hi", "seed": 2**63}, "seed"),
        ({"prompt": "hi", "max_tokens": "5"}, "max_tokens"),
        ({"prompt": ""}, "Either prompt or prompt_embeds must be provided and non-empty."),
        ({"prompt": "hi", "stop": 3}, "stop"),
    ],
)
def test_shape_refusals(body: dict, words: str) -> None:
    problem = refusal(lambda: read_completion(body, NONE)).problem
    assert problem.status == 400 and words in problem.message


def test_include_usage_defaults_on_once_stream_options_are_given() -> None:
    assert (
        read_completion({"prompt": "hi", "stream": True, "stream_options": {}}, NONE).include_usage is False
    )
    assert read_completion(
        {"prompt": "hi", "stream": True, "stream_options": {"continuous_usage_stats": True}}, NONE
    ).include_usage


def test_generation_config_values_sit_under_the_requests_own(tmp_path: Path) -> None:
    (tmp_path / "generation_config.json").write_text(
        json.dumps({"temperature": 0.6, "top_p": 0.9, "max_new_tokens": 8, "eos_token_id": 2})
    )
    defaults = Defaults.of(tmp_path)
    _, params = plan(
        read_chat({"messages": [{"role": "user", "content": "hi"}]}, defaults), [1], 100, defaults
    )
    assert (params.temperature, params.top_p, params.max_new_tokens) == (0.6, 0.9, 8)
    _, params = plan(read_completion({"prompt": "hi", "temperature": 0.2}, defaults), [1], 100, defaults)
    assert (params.temperature, params.top_p, params.max_new_tokens) == (0.2, 0.9, 16)
