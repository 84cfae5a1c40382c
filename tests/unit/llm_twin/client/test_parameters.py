"""The options' translation to TGI's generate and to the Messages API, and what the options accept."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llm_twin.client.parameters import (
    MAX_NEW_TOKENS_OPTION,
    TEMPERATURE_OPTION,
    TOP_P_OPTION,
    request_parameters,
)
from llm_twin.protocol.tgi import CHAT_TEMPERATURE, CHAT_TOP_P, TEMPERATURE, TOP_P


def test_generate_asks_for_details_even_with_no_option() -> None:
    assert request_parameters(chat=False) == {"details": True}


def test_chat_sends_nothing_it_was_not_given() -> None:
    assert request_parameters(chat=True) == {}


def test_generate_uses_tgi_names() -> None:
    assert request_parameters(
        chat=False, max_new_tokens=5, temperature=0.5, top_p=0.9, stop=("\n",), seed=3
    ) == {"max_new_tokens": 5, "temperature": 0.5, "top_p": 0.9, "stop": ["\n"], "seed": 3, "details": True}


def test_chat_uses_openai_names_and_meanings() -> None:
    assert request_parameters(
        chat=True, max_new_tokens=5, temperature=0, top_p=1, stop=("a", "b"), seed=3
    ) == {"max_tokens": 5, "temperature": 0, "top_p": 1, "stop": ["a", "b"], "seed": 3}


def test_temperature_zero_on_generate_is_greedy_without_the_sampling_defaults() -> None:
    # TGI refuses temperature 0; null overrides the book's default temperature and top_p.
    assert request_parameters(chat=False, temperature=0, top_p=0.5) == {
        "temperature": None,
        "top_p": None,
        "do_sample": False,
        "details": True,
    }


def test_top_p_one_on_generate_is_no_cut() -> None:
    assert request_parameters(chat=False, top_p=1) == {"top_p": None, "details": True}


@given(
    temperature=st.none() | st.floats(min_value=0, max_value=100),
    top_p=st.none() | st.floats(min_value=0, max_value=1, exclude_min=True),
)
def test_whatever_the_options_accept_tgi_accepts(temperature: float | None, top_p: float | None) -> None:
    """The options are wider than TGI's generate; the translation must land inside it."""
    assert TEMPERATURE_OPTION.problem(temperature) is None and TOP_P_OPTION.problem(top_p) is None
    generate = request_parameters(chat=False, temperature=temperature, top_p=top_p)
    assert generate.get("temperature") is None or generate["temperature"] in TEMPERATURE.interval
    assert generate.get("top_p") is None or generate["top_p"] in TOP_P.interval
    chat = request_parameters(chat=True, temperature=temperature, top_p=top_p)
    assert chat.get("top_p") is None or chat["top_p"] in CHAT_TOP_P.interval
    if temperature is not None and temperature <= 2:
        assert chat["temperature"] in CHAT_TEMPERATURE.interval


@pytest.mark.parametrize(
    ("rule", "value", "problem"),
    [
        (MAX_NEW_TOKENS_OPTION, 0, "must be at least 1"),
        (MAX_NEW_TOKENS_OPTION, -3, "must be at least 1"),
        (MAX_NEW_TOKENS_OPTION, 1, None),
        (MAX_NEW_TOKENS_OPTION, None, None),
        (TEMPERATURE_OPTION, -0.5, "must be >= 0 (0 means greedy decoding)"),
        (TEMPERATURE_OPTION, float("nan"), "must be >= 0 (0 means greedy decoding)"),
        (TEMPERATURE_OPTION, 0.0, None),
        (TEMPERATURE_OPTION, 7.0, None),
        (TOP_P_OPTION, 1.5, "must be in (0, 1]"),
        (TOP_P_OPTION, 0.0, "must be in (0, 1]"),
        (TOP_P_OPTION, float("nan"), "must be in (0, 1]"),
        (TOP_P_OPTION, 1.0, None),
        (TOP_P_OPTION, 0.01, None),
    ],
)
def test_each_option_says_what_it_accepts(rule, value: float | None, problem: str | None) -> None:
    assert rule.problem(value) == problem
