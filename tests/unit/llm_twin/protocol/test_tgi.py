"""TGI's parameter ranges, checked against the wording of TGI's router (`validation.rs`)."""

from __future__ import annotations

import pytest

from llm_twin.protocol.tgi import (
    CHAT_TEMPERATURE,
    CHAT_TOP_P,
    MAX_NEW_TOKENS,
    OPENAI_PENALTY,
    REPETITION_PENALTY,
    SEED,
    TEMPERATURE,
    TOP_K,
    TOP_P,
    Interval,
    stop_count_message,
)


@pytest.mark.parametrize(
    ("rule", "inside", "outside"),
    [
        (TEMPERATURE, [1e-9, 0.7, 100.0], [0, -0.5, float("nan")]),
        (REPETITION_PENALTY, [0.1, 1.0], [0, -1]),
        (TOP_P, [0.01, 0.99], [0, 1, 1.5]),
        (CHAT_TOP_P, [0.01, 1], [0, 1.01]),
        (TOP_K, [1, 50], [0, -1]),
        (MAX_NEW_TOKENS, [1, 10**9], [0, -1]),
        (SEED, [0, 2**64 - 1], [-1, 2**64]),
        (CHAT_TEMPERATURE, [0, 1, 2], [-0.1, 2.1]),
    ],
)
def test_each_range(rule, inside: list[float], outside: list[float]) -> None:
    assert all(value in rule.interval for value in inside)
    assert not any(value in rule.interval for value in outside)


@pytest.mark.parametrize(
    ("interval", "said"),
    [
        (TEMPERATURE.interval, "> 0"),
        (TOP_K.interval, ">= 1"),
        (TOP_P.interval, "in (0, 1)"),
        (CHAT_TOP_P.interval, "in (0, 1]"),
        (CHAT_TEMPERATURE.interval, "from 0 to 2"),
        (OPENAI_PENALTY, "from -2 to 2"),
        (MAX_NEW_TOKENS.interval.capped(8192), "from 1 to 8192"),
        (Interval(high=1, high_open=True), "< 1"),
        (Interval(), "any number"),
    ],
)
def test_ranges_read_as_the_messages_say_them(interval: Interval, said: str) -> None:
    assert str(interval) == said


def test_tgi_messages_are_tgis_wording() -> None:
    # TGI's ValidationError texts (router/src/validation.rs), as the stand-in answers them.
    assert TEMPERATURE.tgi_message == "`temperature` must be strictly positive"
    assert REPETITION_PENALTY.tgi_message == "`repetition_penalty` must be strictly positive"
    assert TOP_P.tgi_message == "`top_p` must be > 0.0 and < 1.0"
    assert TOP_K.tgi_message == "`top_k` must be strictly positive"
    assert MAX_NEW_TOKENS.tgi_message == "`max_new_tokens` must be strictly positive"
    assert SEED.tgi_message == "`seed` must be positive"
    assert stop_count_message(4, 5) == "`stop` supports up to 4 stop sequences. Given: 5"
