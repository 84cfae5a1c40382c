"""vLLM's OpenAI wire rules, one owner: defaults, the checks in vLLM's order with its messages,
the error shape, finish reasons and the SageMaker `/invocations` dispatch (research.md C1, C4).

Read from vLLM's sources (`completion/protocol.py`, `sampling_params.py` `_verify_args`,
`engine/serving.py` `_validate_input` and `create_error_response`, `sagemaker/api_router.py`):
- a body is a chat completion when it has `messages`, else a completion when it has `prompt`;
  anything else on `/invocations` is a 400 naming the request types it expected;
- the prompt's length is checked against `max_model_len` first, then the sampling parameters;
- a `VLLMValidationError` prints as `message (parameter=..., value=...)`, and the error body names
  the parameter in `param`; every refusal is `{"error": {"message", "type", "param", "code"}}`;
- temperature below 1e-5 is greedy; top_p 1.0 is accepted (it is the default);
- a completion's `max_tokens` defaults to 16, a chat's to what is left of the context.

Readers: the local stand-in (`llm_twin_local.model_server`) answers with these; the client
and the gateway build vLLM bodies and read vLLM errors by the same names.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, TypedDict

__all__ = [
    "CHAT_CHUNK_OBJECT",
    "CHAT_OBJECT",
    "COMPLETION_OBJECT",
    "DEFAULT_COMPLETION_MAX_TOKENS",
    "DEFAULT_VLLM_VERSION",
    "GREEDY_TEMPERATURE",
    "INVOCATION_TYPES",
    "SEED_RANGE",
    "ErrorBody",
    "ErrorInfo",
    "FinishReason",
    "InvocationKind",
    "Problem",
    "SamplingParams",
    "error_body",
    "error_type",
    "finish_reason",
    "granted_max_tokens",
    "invocation_kind",
    "length_problem",
    "no_handler_message",
    "sampling_problem",
]

DEFAULT_VLLM_VERSION = "0.29.0"
"""The release the stand-in answers as on /version: the newest `huggingface-vllm` in the catalogue."""
DEFAULT_COMPLETION_MAX_TOKENS = 16
"""`CompletionRequest.max_tokens`'s default (a null `max_tokens` is normalized to it too)."""
GREEDY_TEMPERATURE = 1e-5
"""`_SAMPLING_EPS`: a temperature below it is greedy decoding (top_p, top_k and min_p reset)."""
SEED_RANGE = (-(2**63), 2**63 - 1)
"""The request's `seed` field is bounded to int64 by pydantic (`Field(ge=..., le=...)`)."""
COMPLETION_OBJECT = "text_completion"
CHAT_OBJECT = "chat.completion"
CHAT_CHUNK_OBJECT = "chat.completion.chunk"
INVOCATION_TYPES = ("ChatCompletionRequest", "CompletionRequest")
"""What a generative model's `/invocations` tries, in this order (pooling types need a pooling model)."""

FinishReason = Literal["stop", "length", "abort", "error"]
"""vLLM's finish reasons for text: an EOS token or a stop string ("stop"), `max_tokens` ("length")."""
InvocationKind = Literal["chat", "completion"]


class ErrorInfo(TypedDict):
    message: str
    type: str
    param: str | None
    code: int


class ErrorBody(TypedDict):
    """`ErrorResponse`: the body of every refusal, and the event of an error inside a stream."""

    error: ErrorInfo


_TYPES = {
    400: "BadRequestError",
    404: "NotFoundError",
    501: "NotImplementedError",
    500: "InternalServerError",
}


def error_type(status: int) -> str:
    """`create_error_response`'s `type` for a status (what the exception class maps to)."""
    return _TYPES.get(status, "InternalServerError" if status >= 500 else "BadRequestError")


def error_body(
    message: str, status: int = 400, *, param: str | None = None, kind: str | None = None
) -> ErrorBody:
    """`{"error": {"message", "type", "param", "code"}}` as vLLM writes it (`kind` overrides `type`)."""
    return {"error": {"message": message, "type": kind or error_type(status), "param": param, "code": status}}


@dataclass(frozen=True)
class Problem:
    """A refusal: vLLM's message (with its `(parameter=..., value=...)` tail) and the `param` it names."""

    message: str
    param: str | None = None
    status: int = 400

    def body(self) -> ErrorBody:
        return error_body(self.message, self.status, param=self.param)


def _validation(message: str, parameter: str | None = None, value: object = None) -> Problem:
    """A `VLLMValidationError`: its `__str__` appends the parameter and value it was given."""
    extras = []
    if parameter is not None:
        extras.append(f"parameter={parameter}")
    if value is not None:
        extras.append(f"value={value}")
    return Problem(f"{message} ({', '.join(extras)})" if extras else message, parameter)


def invocation_kind(body: object) -> InvocationKind | None:
    """Which request type `/invocations` hands `body` to: chat when it has `messages`, a completion
    when it has a non-empty `prompt`; None: vLLM answers `no_handler_message()` (a TGI `inputs` body)."""
    if not isinstance(body, dict):
        return None
    if isinstance(body.get("messages"), list):
        return "chat"
    prompt = body.get("prompt")
    if prompt is not None and prompt != "":
        return "completion"
    return None


def no_handler_message() -> str:
    """The 400 of `/invocations` for a body no request type validates (Python prints the list)."""
    return f"Cannot find suitable handler for request. Expected one of: {list(INVOCATION_TYPES)}"


def length_problem(input_tokens: int, max_tokens: int | None, max_model_len: int) -> Problem | None:
    """`_validate_input`: the prompt must leave room for one token, and for `max_tokens` if given."""
    if input_tokens >= max_model_len:
        return _validation(
            f"This model's maximum context length is {max_model_len} tokens. However, your request has "
            f"{input_tokens} input tokens. Please reduce the length of the input messages.",
            "input_tokens",
            input_tokens,
        )
    if max_tokens is not None and input_tokens + max_tokens > max_model_len:
        return _validation(
            f"'max_tokens' or 'max_completion_tokens' is too large: {max_tokens}. This model's maximum "
            f"context length is {max_model_len} tokens and your request has {input_tokens} input tokens "
            f"({max_tokens} > {max_model_len} - {input_tokens}).",
            "max_tokens",
            max_tokens,
        )
    return None


def granted_max_tokens(input_tokens: int, max_tokens: int | None, max_model_len: int) -> int:
    """`get_max_tokens`: what the request asked, never more than the context leaves."""
    room = max_model_len - input_tokens
    return room if max_tokens is None else min(room, max_tokens)


@dataclass(frozen=True)
class SamplingParams:
    """What `SamplingParams._verify_args` sees: the request's values over the defaults."""

    n: int = 1
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    repetition_penalty: float = 1.0
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    min_p: float = 0.0
    max_tokens: int | None = DEFAULT_COMPLETION_MAX_TOKENS
    min_tokens: int = 0
    stop: tuple[str, ...] = ()

    @property
    def greedy(self) -> bool:
        return self.temperature < GREEDY_TEMPERATURE


def sampling_problem(params: SamplingParams) -> Problem | None:
    """`_verify_args` (then `_verify_greedy_sampling`): the first failing check, in vLLM's order."""
    p = params
    checks: tuple[tuple[bool, Problem], ...] = (
        (p.n < 1, _validation(f"n must be at least 1, got {p.n}.")),
        (
            not -2.0 <= p.presence_penalty <= 2.0,
            _validation(f"presence_penalty must be in [-2, 2], got {p.presence_penalty}."),
        ),
        (
            not -2.0 <= p.frequency_penalty <= 2.0,
            _validation(f"frequency_penalty must be in [-2, 2], got {p.frequency_penalty}."),
        ),
        (
            not math.isfinite(p.repetition_penalty),
            _validation(f"repetition_penalty must be a finite number, got {p.repetition_penalty}."),
        ),
        (
            p.repetition_penalty <= 0.0,
            _validation(f"repetition_penalty must be greater than zero, got {p.repetition_penalty}."),
        ),
        (
            not math.isfinite(p.temperature),
            _validation(
                f"temperature must be a finite number, got {p.temperature}.", "temperature", p.temperature
            ),
        ),
        (
            p.temperature < 0.0,
            _validation(
                f"temperature must be non-negative, got {p.temperature}.", "temperature", p.temperature
            ),
        ),
        (
            p.temperature > 2.0,
            _validation(f"temperature must be in [0, 2], got {p.temperature}.", "temperature", p.temperature),
        ),
        (
            not 0.0 < p.top_p <= 1.0,
            _validation(f"top_p must be in (0, 1], got {p.top_p}.", "top_p", p.top_p),
        ),
        (p.top_k < -1, _validation(f"top_k must be 0 (disable), or at least 1, got {p.top_k}.")),
        (not 0.0 <= p.min_p <= 1.0, _validation(f"min_p must be in [0, 1], got {p.min_p}.")),
        (
            p.max_tokens is not None and p.max_tokens < 1,
            _validation(f"max_tokens must be at least 1, got {p.max_tokens}.", "max_tokens", p.max_tokens),
        ),
        (
            p.min_tokens < 0,
            _validation(f"min_tokens must be greater than or equal to 0, got {p.min_tokens}."),
        ),
        (
            p.max_tokens is not None and p.min_tokens > p.max_tokens,
            _validation(
                f"min_tokens must be less than or equal to max_tokens={p.max_tokens}, got {p.min_tokens}."
            ),
        ),
        (any(not s for s in p.stop), _validation("stop cannot contain an empty string.")),
        (p.greedy and p.n > 1, _validation(f"n must be 1 when using greedy sampling, got {p.n}.")),
    )
    return next((problem for failed, problem in checks if failed), None)


def finish_reason(engine_reason: str) -> FinishReason:
    """An engine's reason as vLLM reports it: EOS and stop strings are both "stop"."""
    return "length" if engine_reason == "length" else "stop"
