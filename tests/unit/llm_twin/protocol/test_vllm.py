"""vLLM's wire rules against vLLM's own sources (quoted from the files named in `protocol.vllm`).

The messages below are copied from vLLM: `sampling_params.py` `_verify_args`,
`engine/serving.py` `_validate_input`, `sagemaker/api_router.py`, and `exceptions.py`
(`VLLMValidationError.__str__` appends `(parameter=..., value=...)`).
"""

from __future__ import annotations

import pytest

from llm_twin.protocol import vllm
from llm_twin.protocol.vllm import SamplingParams


def message(params: SamplingParams) -> str | None:
    problem = vllm.sampling_problem(params)
    return None if problem is None else problem.message


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (SamplingParams(n=0), "n must be at least 1, got 0."),
        (SamplingParams(presence_penalty=2.5), "presence_penalty must be in [-2, 2], got 2.5."),
        (SamplingParams(frequency_penalty=-3.0), "frequency_penalty must be in [-2, 2], got -3.0."),
        (SamplingParams(repetition_penalty=0.0), "repetition_penalty must be greater than zero, got 0.0."),
        (
            SamplingParams(repetition_penalty=float("inf")),
            "repetition_penalty must be a finite number, got inf.",
        ),
        (
            SamplingParams(temperature=-0.5),
            "temperature must be non-negative, got -0.5. (parameter=temperature, value=-0.5)",
        ),
        (
            SamplingParams(temperature=2.5),
            "temperature must be in [0, 2], got 2.5. (parameter=temperature, value=2.5)",
        ),
        (SamplingParams(top_p=0.0), "top_p must be in (0, 1], got 0.0. (parameter=top_p, value=0.0)"),
        (SamplingParams(top_k=-2), "top_k must be 0 (disable), or at least 1, got -2."),
        (SamplingParams(min_p=1.5), "min_p must be in [0, 1], got 1.5."),
        (
            SamplingParams(max_tokens=0),
            "max_tokens must be at least 1, got 0. (parameter=max_tokens, value=0)",
        ),
        (SamplingParams(min_tokens=-1), "min_tokens must be greater than or equal to 0, got -1."),
        (
            SamplingParams(max_tokens=4, min_tokens=5),
            "min_tokens must be less than or equal to max_tokens=4, got 5.",
        ),
        (SamplingParams(stop=("a", "")), "stop cannot contain an empty string."),
        (SamplingParams(n=2, temperature=0.0), "n must be 1 when using greedy sampling, got 2."),
    ],
)
def test_each_sampling_check_in_vllms_words(params: SamplingParams, expected: str) -> None:
    assert message(params) == expected


def test_what_vllm_accepts_and_openai_clients_send() -> None:
    assert message(SamplingParams(top_p=1.0, temperature=0.0)) is None  # TGI refuses top_p 1.0
    assert message(SamplingParams(top_k=-1)) is None  # "quietly accept -1 as disabled"
    assert message(SamplingParams(temperature=2.0, presence_penalty=-2.0)) is None


def test_the_first_failing_check_wins() -> None:
    assert message(SamplingParams(top_p=5.0, temperature=-1.0)) == (
        "temperature must be non-negative, got -1.0. (parameter=temperature, value=-1.0)"
    )


def test_greedy_below_vllms_epsilon() -> None:
    assert SamplingParams(temperature=0.0).greedy and SamplingParams(temperature=1e-6).greedy
    assert not SamplingParams(temperature=1e-5).greedy


def test_length_checks_against_max_model_len() -> None:
    too_long = vllm.length_problem(100, None, 100)
    assert too_long is not None and too_long.param == "input_tokens"
    assert too_long.message == (
        "This model's maximum context length is 100 tokens. However, your request has 100 input tokens. "
        "Please reduce the length of the input messages. (parameter=input_tokens, value=100)"
    )
    too_many = vllm.length_problem(10, 91, 100)
    assert too_many is not None and too_many.param == "max_tokens"
    assert too_many.message == (
        "'max_tokens' or 'max_completion_tokens' is too large: 91. This model's maximum context length is "
        "100 tokens and your request has 10 input tokens (91 > 100 - 10). (parameter=max_tokens, value=91)"
    )
    assert vllm.length_problem(10, 90, 100) is None and vllm.length_problem(99, None, 100) is None


def test_granted_tokens_are_what_the_context_leaves() -> None:
    assert vllm.granted_max_tokens(10, None, 100) == 90
    assert vllm.granted_max_tokens(10, 16, 100) == 16


def test_the_error_body_is_openais_shape() -> None:
    assert vllm.error_body("boom") == {
        "error": {"message": "boom", "type": "BadRequestError", "param": None, "code": 400}
    }
    assert vllm.error_body("x", 404, param="model")["error"]["type"] == "NotFoundError"
    assert vllm.error_body("x", 500)["error"]["type"] == "InternalServerError"
    assert vllm.error_body("x", 501)["error"]["type"] == "NotImplementedError"


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ({"messages": [{"role": "user", "content": "hi"}]}, "chat"),
        ({"messages": [], "prompt": "hi"}, "chat"),
        ({"prompt": "hi"}, "completion"),
        ({"prompt": ["a", "b"]}, "completion"),
        ({"prompt": ""}, None),
        ({"inputs": "hi", "parameters": {}}, None),
        ([{"prompt": "hi"}], None),
    ],
)
def test_invocations_dispatch_by_body_shape(body: object, kind: str | None) -> None:
    assert vllm.invocation_kind(body) == kind


def test_the_no_handler_message_prints_the_list_as_python_does() -> None:
    assert vllm.no_handler_message() == (
        "Cannot find suitable handler for request. Expected one of: ['ChatCompletionRequest', 'CompletionRequest']"
    )


def test_finish_reasons() -> None:
    assert [vllm.finish_reason(r) for r in ("length", "eos_token", "stop_sequence")] == [
        "length",
        "stop",
        "stop",
    ]
    assert vllm.DEFAULT_COMPLETION_MAX_TOKENS == 16
