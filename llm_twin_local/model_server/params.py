"""Request parameters, parsed and validated the way TGI's router does it.

`parse_generate_request` and `parse_chat_parameters` turn a decoded JSON body into
typed parameters (type errors only); `validate` runs TGI's range and length checks
once the inputs are tokenized. Every rejection raises `ParameterError` with TGI's own
wording, which the app turns into its 422 (or an SSE error event).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import overload

from llm_twin.protocol.tgi import (
    CHAT_TOP_P,
    MAX_NEW_TOKENS,
    MAX_STOP_SEQUENCES,
    REPETITION_PENALTY,
    SEED,
    TEMPERATURE,
    TOP_K,
    Rule,
    stop_count_message,
)
from llm_twin.protocol.tgi import FinishReason as FinishReason  # the server's modules read it here

DEFAULT_MAX_NEW_TOKENS = 100
_MISSING = object()


class ParameterError(ValueError):
    """A request TGI's router refuses, in TGI's words; the app answers it with its own error
    (a shape error while parsing, `Input validation error: ...` once validating)."""


@dataclass(frozen=True)
class Limits:
    """Token limits of the server (TGI's launcher arguments of the same names)."""

    max_input_tokens: int
    """Longest accepted prompt, in tokens."""
    max_total_tokens: int
    """Longest accepted prompt + `max_new_tokens`."""
    max_stop_sequences: int = MAX_STOP_SEQUENCES
    """Most entries accepted in `stop`."""


@dataclass(frozen=True)
class GenerateParameters:
    """The `parameters` object of a TGI request, after validation."""

    max_new_tokens: int | None = DEFAULT_MAX_NEW_TOKENS
    """Tokens to generate at most; None means "up to `max_total_tokens`"."""
    temperature: float | None = None
    """Divides the logits; None leaves them alone."""
    top_p: float | None = None
    """Nucleus sampling mass in (0, 1]."""
    top_k: int | None = None
    """Keep only the k most likely tokens."""
    repetition_penalty: float | None = None
    """CTRL-style penalty on tokens already seen (prompt included); 1.0 is none."""
    stop: tuple[str, ...] = ()
    """Generation stops once the text contains one of these (it is kept in the output)."""
    seed: int | None = None
    """Sampling seed; a random one is drawn when sampling without one."""
    do_sample: bool = False
    """Sample instead of greedy decoding (implied by any warper, like TGI)."""
    return_full_text: bool = False
    """Prepend the prompt to `generated_text`."""
    details: bool = False
    """Return finish reason, token count, seed and per-token details."""
    decoder_input_details: bool = False
    """Also return the prompt tokens in `details.prefill`."""

    @property
    def sampling(self) -> bool:
        """TGI's rule: sample when asked to, or when any warper changes the distribution."""
        return (
            self.do_sample
            or (self.temperature is not None and self.temperature != 1.0)
            or (self.top_k is not None and self.top_k != 0)
            or (self.top_p is not None and self.top_p < 1.0)
        )


@dataclass(frozen=True)
class GenerateRequest:
    """A parsed request, before tokenization."""

    inputs: str
    """The prompt text (for chat, the rendered template)."""
    parameters: GenerateParameters
    stream: bool = False
    """Only meaningful on the routes that switch on it."""
    add_special_tokens: bool = True
    """Chat prompts already carry their `<s>` from the template."""


@dataclass
class ValidRequest:
    """A request ready for the engine: tokenized and within every limit."""

    inputs: str
    input_ids: list[int]
    parameters: GenerateParameters
    max_new_tokens: int
    """Resolved from the parameters (None becomes the room left under `max_total_tokens`)."""
    seed: int | None
    """The seed used for sampling, None for greedy decoding (reported in `details`)."""
    stop: tuple[str, ...] = field(default_factory=tuple)

    @property
    def input_length(self) -> int:
        return len(self.input_ids)


@overload
def _number(params: Mapping[str, object], name: str, kind: type[int]) -> int | None: ...


@overload
def _number(params: Mapping[str, object], name: str, kind: type[float]) -> float | None: ...


def _number(params: Mapping[str, object], name: str, kind: type[int] | type[float]) -> int | float | None:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ParameterError(f"`{name}` must be a number, got {value!r}")
    if kind is int:
        if isinstance(value, float) and not value.is_integer():
            raise ParameterError(f"`{name}` must be an integer, got {value!r}")
        return int(value)
    return float(value)


def _flag(params: Mapping[str, object], name: str, default: bool | None) -> bool | None:
    value = params.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ParameterError(f"`{name}` must be a boolean, got {value!r}")
    return value


def parse_parameters(params: object) -> GenerateParameters:
    """Read TGI's `parameters` object, checking types only (`check_parameters` checks ranges).

    The split follows TGI: a body that does not deserialize is an HTTP 422 on every
    route, while out-of-range values are found later, in-stream on the streaming routes.
    """
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise ParameterError("`parameters` must be a JSON object")

    raw_max_new = params.get("max_new_tokens", _MISSING)
    max_new_tokens = (
        DEFAULT_MAX_NEW_TOKENS if raw_max_new is _MISSING else _number(params, "max_new_tokens", int)
    )
    stop = params.get("stop") or []
    if isinstance(stop, str):
        stop = [stop]
    if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
        raise ParameterError("`stop` must be a list of strings")
    best_of = _number(params, "best_of", int)
    if best_of is not None and best_of != 1:
        raise ParameterError("`best_of` != 1 is not allowed for this endpoint")
    return GenerateParameters(
        max_new_tokens=max_new_tokens,
        temperature=_number(params, "temperature", float),
        top_p=_number(params, "top_p", float),
        top_k=_number(params, "top_k", int),
        repetition_penalty=_number(params, "repetition_penalty", float),
        stop=tuple(s for s in stop if s),
        seed=_number(params, "seed", int),
        do_sample=bool(_flag(params, "do_sample", False)),
        return_full_text=bool(_flag(params, "return_full_text", False)),
        details=bool(_flag(params, "details", False)),
        decoder_input_details=bool(_flag(params, "decoder_input_details", False)),
    )


def parse_generate_request(body: object) -> GenerateRequest:
    """`{"inputs": str, "parameters": {...}, "stream": bool}` (TGI's CompatGenerateRequest)."""
    if not isinstance(body, dict):
        raise ParameterError("the request body must be a JSON object")
    if "inputs" not in body:
        raise ParameterError("missing field `inputs`")
    inputs = body["inputs"]
    if not isinstance(inputs, str):
        raise ParameterError("`inputs` must be a string")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise ParameterError("`stream` must be a boolean")
    return GenerateRequest(inputs=inputs, parameters=parse_parameters(body.get("parameters")), stream=stream)


def _message_text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for chunk in content:
            if not isinstance(chunk, dict) or chunk.get("type") != "text":
                raise ParameterError("only text message chunks are supported")
            parts.append(str(chunk.get("text", "")))
        return "".join(parts)
    if content is None:
        return ""
    raise ParameterError("message `content` must be a string or a list of chunks")


def chat_messages(body: Mapping[str, object]) -> list[dict[str, str]]:
    """The `messages` of a chat request, with content flattened to text."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ParameterError("`messages` must be a non-empty list")
    flat = []
    for message in messages:
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise ParameterError("each message needs a string `role`")
        flat.append({"role": message["role"], "content": _message_text(message.get("content"))})
    return flat


def parse_chat_parameters(body: Mapping[str, object]) -> GenerateParameters:
    """Map the OpenAI-style fields onto TGI parameters, as TGI's chat route does.

    Temperature 0 means greedy; otherwise the chat route samples.
    """
    temperature = body.get("temperature")
    if temperature is not None and not isinstance(temperature, bool) and temperature == 0:
        do_sample, temperature = False, None
    else:
        do_sample = True
    stop = body.get("stop")
    params: dict[str, object] = {
        "temperature": temperature,
        "top_p": body.get("top_p"),
        "seed": body.get("seed"),
        "stop": stop,
        "do_sample": do_sample,
        "details": True,
    }
    if "max_tokens" in body:
        params["max_new_tokens"] = body["max_tokens"]
    if body.get("repetition_penalty") is not None:
        params["repetition_penalty"] = body["repetition_penalty"]
    return parse_parameters(params)


def check_parameters(params: GenerateParameters, limits: Limits) -> None:
    """TGI's range checks, in TGI's order (the ranges and messages are `llm_twin.protocol.tgi`)."""
    ranged: tuple[tuple[Rule, float | None], ...] = (
        (TEMPERATURE, params.temperature),
        (REPETITION_PENALTY, params.repetition_penalty),
        (CHAT_TOP_P, params.top_p),  # 1 passes here, as it always has (see CHAT_TOP_P)
        (TOP_K, params.top_k),
        (MAX_NEW_TOKENS, params.max_new_tokens),
    )
    for rule, value in ranged:
        if value is not None and value not in rule.interval:
            raise ParameterError(rule.tgi_message)
    if len(params.stop) > limits.max_stop_sequences:
        raise ParameterError(stop_count_message(limits.max_stop_sequences, len(params.stop)))
    if params.seed is not None and params.seed not in SEED.interval:
        raise ParameterError(SEED.tgi_message)


def validate(
    request: GenerateRequest, input_ids: list[int], limits: Limits, *, rng: random.Random | None = None
) -> ValidRequest:
    """All of TGI's checks, then resolve `max_new_tokens` and the seed."""
    params = request.parameters
    check_parameters(params, limits)
    if not request.inputs:
        raise ParameterError("`inputs` cannot be empty")
    input_length = len(input_ids)
    if input_length == 0:
        raise ParameterError("`inputs` cannot be empty")
    max_new_tokens = params.max_new_tokens
    if max_new_tokens is None:
        max_new_tokens = max(limits.max_total_tokens - input_length, 0)
    if input_length + max_new_tokens > limits.max_total_tokens:
        raise ParameterError(
            f"`inputs` tokens + `max_new_tokens` must be <= {limits.max_total_tokens}. "
            f"Given: {input_length} `inputs` tokens and {max_new_tokens} `max_new_tokens`"
        )
    if input_length > limits.max_input_tokens:
        raise ParameterError(
            f"`inputs` must have less than {limits.max_input_tokens} tokens. Given: {input_length}"
        )
    if max_new_tokens <= 0:
        raise ParameterError("`max_new_tokens` must be strictly positive")
    seed = None
    if params.sampling:
        seed = params.seed if params.seed is not None else (rng or random).getrandbits(63)
    return ValidRequest(
        inputs=request.inputs,
        input_ids=list(input_ids),
        parameters=params,
        max_new_tokens=max_new_tokens,
        seed=seed,
        stop=params.stop,
    )
