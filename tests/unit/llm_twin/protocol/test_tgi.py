"""TGI's parameter ranges and checks, against the wording and order of TGI 3.3's router (research.md A2)."""

from __future__ import annotations

import pytest

from llm_twin.protocol.tgi import (
    CHAT_TEMPERATURE,
    CHAT_TOP_P,
    ERROR_STATUS,
    MAX_NEW_TOKENS,
    OPENAI_PENALTY,
    REPETITION_PENALTY,
    SEED,
    TEMPERATURE,
    TOP_K,
    TOP_P,
    Interval,
    Limits,
    Sampling,
    best_of_problem,
    chat_finish_reason,
    chat_stream_error,
    error_body,
    granted_new_tokens,
    length_problem,
    parameter_problem,
    parse_version,
    stop_count_message,
    stream_problem,
    truncate_problem,
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


# -- TGI 3.3's checks, in its order (research.md A2) ---------------------------------------------

LIMITS = Limits(max_input_tokens=8, max_total_tokens=16)


@pytest.mark.parametrize(
    ("sampling", "message"),
    [
        (Sampling(best_of=2), "you must use sampling when `best_of` is > 1"),
        (Sampling(temperature=0), "`temperature` must be strictly positive"),
        (Sampling(repetition_penalty=0), "`repetition_penalty` must be strictly positive"),
        (Sampling(frequency_penalty=2.5), "`frequency_penalty` must be >= -2.0 and <= 2.0"),
        (Sampling(top_p=1.0), "`top_p` must be > 0.0 and < 1.0"),
        (Sampling(typical_p=1.5), "`typical_p` must be > 0.0 and < 1.0"),
        (Sampling(top_k=0), "`top_k` must be strictly positive"),
        (Sampling(max_new_tokens=0), "`max_new_tokens` must be strictly positive"),
        (Sampling(stop_count=5), "`stop` supports up to 4 stop sequences. Given: 5"),
        (Sampling(best_of=2, do_sample=True, seed=1), "`seed` must not be set when `best_of` > 1"),
        (Sampling(top_n_tokens=6), "`top_n_tokens` must be >= 0 and <= 5. Given: 6"),
        (Sampling(temperature=0, top_p=1.0, top_n_tokens=6), "`temperature` must be strictly positive"),
        (Sampling(top_p=1.0, top_k=0, stop_count=9), "`top_p` must be > 0.0 and < 1.0"),
    ],
)
def test_the_first_failing_check_in_tgi_s_order(sampling: Sampling, message: str) -> None:
    assert parameter_problem(sampling, LIMITS) == message


def test_what_passes() -> None:
    fine = Sampling(
        temperature=0.5, top_p=0.99, typical_p=0.5, frequency_penalty=-2, top_n_tokens=5, stop_count=4
    )
    assert parameter_problem(fine, LIMITS) is None
    assert parameter_problem(Sampling(best_of=2, top_k=5), LIMITS) is None  # sampling implied by a warper
    assert parameter_problem(Sampling(top_n_tokens=0), LIMITS) is None


def test_stream_and_best_of_refusals() -> None:
    assert stream_problem(best_of=2, decoder_input_details=True) == (
        "`best_of` != 1 is not supported when streaming tokens"
    )
    assert stream_problem(best_of=None, decoder_input_details=True) == (
        "`decoder_input_details` == true is not supported when streaming tokens"
    )
    assert stream_problem(best_of=1, decoder_input_details=False) is None
    assert best_of_problem(2, LIMITS) == "`best_of` != 1 is not allowed for this endpoint"
    assert best_of_problem(3, Limits(8, 16, max_best_of=2)) == "`best_of` must be > 0 and <= 2. Given: 3"
    assert best_of_problem(1, LIMITS) is None


def test_truncate() -> None:
    assert truncate_problem(0, LIMITS) == "`truncate` must be strictly positive and less than 8. Given: 0"
    assert truncate_problem(9, LIMITS) == "`truncate` must be strictly positive and less than 8. Given: 9"
    assert truncate_problem(8, LIMITS) is None and truncate_problem(None, LIMITS) is None


def test_the_total_is_checked_before_the_input() -> None:
    assert length_problem(9, 20, LIMITS) == (
        "`inputs` tokens + `max_new_tokens` must be <= 16. Given: 9 `inputs` tokens and 20 `max_new_tokens`"
    )
    assert length_problem(9, 1, LIMITS) == "`inputs` must have less than 8 tokens. Given: 9"


BIG = Limits(max_input_tokens=4000, max_total_tokens=4096)


def test_tgi_3_counts_one_chunk_of_new_tokens() -> None:
    # 10 + min(5000, 1024) fits: accepted, and generated up to the room left, chunk by chunk.
    assert length_problem(10, 5000, BIG) is None
    assert granted_new_tokens(10, 5000, BIG) == 4086
    # TGI 2.x counted every requested token.
    assert length_problem(10, 5000, BIG, version="2.4.1") is not None
    # Unset: one chunk on 3.x, the whole room on 2.x.
    assert granted_new_tokens(10, None, BIG) == 1024
    assert granted_new_tokens(10, None, BIG, version="2.4.1") == 4086
    assert granted_new_tokens(10, 7, BIG) == 7


def test_a_requeued_chunk_that_fails_validation_ends_the_generation() -> None:
    # After 1024 tokens the grown input (1034) exceeds max_input_tokens: TGI stops there, "length".
    assert granted_new_tokens(10, 3000, Limits(max_input_tokens=1000, max_total_tokens=4096)) == 1024
    assert granted_new_tokens(10, 5000, Limits(max_input_tokens=2000, max_total_tokens=4096)) == 2048
    # The room left caps a request that asks for more than fits in max_total_tokens.
    assert length_problem(10, 1024, Limits(max_input_tokens=100, max_total_tokens=1024)) is not None
    assert granted_new_tokens(10, 1014, Limits(max_input_tokens=100, max_total_tokens=1024)) == 1014


def test_versions() -> None:
    assert parse_version("3.3.6") == (3, 3, 6)
    with pytest.raises(ValueError, match="expected a TGI version like 3.3.6"):
        parse_version("3.3")


def test_chat_finish_reasons_and_error_shapes() -> None:
    # FinishReason::format(true): only eos_token is renamed.
    assert [chat_finish_reason(r) for r in ("eos_token", "length", "stop_sequence")] == [
        "stop",
        "length",
        "stop_sequence",
    ]
    assert error_body("Model is overloaded", "overloaded") == {
        "error": "Model is overloaded",
        "error_type": "overloaded",
    }
    assert chat_stream_error("boom") == {"error": {"message": "boom", "http_status_code": 422}}
    assert ERROR_STATUS["generation"] == 424 and ERROR_STATUS["overloaded"] == 429
