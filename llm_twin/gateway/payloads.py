"""What a browser may send the gateway, checked before any AWS call (pure logic).

A request the endpoint would refuse costs an invocation and a round trip, and its error
arrives as an SSE event after a 200; checking here answers 400 or 422 at once, with one
line naming the field and what is allowed. Only known parameters pass: the gateway
spends the server's AWS credentials, so it forwards nothing it does not understand.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from llm_twin.errors import GatewayRequestError
from llm_twin.protocol.text import json_text_problem

__all__ = ["ChatRequest", "GenerateRequest", "parse_chat", "parse_generate", "parse_json"]

MAX_NEW_TOKENS_LIMIT = 8192
"""Far above what MAX_TOTAL_TOKENS allows on our endpoints; TGI enforces the real bound."""
CHAT_ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class GenerateRequest:
    """A TGI `generate_stream` call: the prompt and the parameters to forward."""

    inputs: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class ChatRequest:
    """A `/v1/chat/completions` call, reduced to what the Messages API route reads."""

    messages: list[dict[str, str]]
    parameters: dict[str, Any]
    """OpenAI-named sampling parameters (max_tokens, temperature, top_p, seed, stop)."""
    stream: bool


def _invalid(message: str) -> GatewayRequestError:
    return GatewayRequestError(422, message)


def parse_json(body: bytes) -> Any:
    """The body as JSON; 400 when it is not (a shape problem in valid JSON is a 422 later).

    JSON that escapes a lone surrogate is a 422 here: the endpoint's tokenizer cannot
    encode it, and it is refused before it costs an invocation.
    """
    try:
        value = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise GatewayRequestError(400, f"the body is not valid JSON: {exc}") from None
    problem = json_text_problem(value)
    if problem:
        raise _invalid(problem)
    return value


def _integer(lo: int, hi: int) -> Callable[[str, Any], int]:
    def check(name: str, value: Any) -> int:
        if type(value) is not int or not lo <= value <= hi:
            raise _invalid(f"{name} must be a whole number from {lo} to {hi}, got {json.dumps(value)}")
        return value

    return check


def _number(allowed: str, ok: Callable[[float], bool]) -> Callable[[str, Any], float | None]:
    def check(name: str, value: Any) -> float | None:
        if value is None:
            return None
        if type(value) not in (int, float) or not math.isfinite(value) or not ok(value):
            raise _invalid(f"{name} must be {allowed}, got {json.dumps(value)}")
        return value

    return check


def _boolean(name: str, value: Any) -> bool:
    if type(value) is not bool:
        raise _invalid(f"{name} must be true or false, got {json.dumps(value)}")
    return value


def _stop(name: str, value: Any) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or len(value) > 4 or not all(isinstance(s, str) and s for s in value):
        raise _invalid(f"{name} must be a non-empty string or a list of up to 4, got {json.dumps(value)}")
    return value


_SEED = _integer(0, 2**64 - 1)
_TEMPERATURE = _number("a number > 0, or null", lambda v: v > 0)
_TOP_P = _number("a number in (0, 1), or null", lambda v: 0 < v < 1)
_PENALTY = _number("a number > 0, or null", lambda v: v > 0)

GENERATE_PARAMETERS: dict[str, Callable[[str, Any], Any]] = {
    "max_new_tokens": _integer(1, MAX_NEW_TOKENS_LIMIT),
    "temperature": _TEMPERATURE,
    "top_p": _TOP_P,
    "top_k": _number("a whole number >= 1, or null", lambda v: v >= 1 and v == int(v)),
    "repetition_penalty": _PENALTY,
    "do_sample": _boolean,
    "seed": _SEED,
    "stop": _stop,
    "details": _boolean,
    "return_full_text": _boolean,
}
CHAT_PARAMETERS: dict[str, Callable[[str, Any], Any]] = {
    "max_tokens": _integer(1, MAX_NEW_TOKENS_LIMIT),
    # The Messages API takes OpenAI's meanings: temperature 0 is greedy, top_p 1 no cut.
    "temperature": _number("a number from 0 to 2, or null", lambda v: 0 <= v <= 2),
    "top_p": _number("a number in (0, 1], or null", lambda v: 0 < v <= 1),
    "seed": _SEED,
    "stop": _stop,
    "frequency_penalty": _number("a number from -2 to 2, or null", lambda v: -2 <= v <= 2),
    "presence_penalty": _number("a number from -2 to 2, or null", lambda v: -2 <= v <= 2),
}
# Sent by OpenAI's clients but meaningless to one endpoint: accepted and dropped.
CHAT_IGNORED = frozenset({"model", "user", "n", "stream_options"})


def _object(name: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise _invalid(
            f"{name} must be a JSON object, got {type(value).__name__ if value is not None else 'null'}"
        )
    return value


def _parameters(
    raw: Mapping[str, Any], allowed: Mapping[str, Callable[[str, Any], Any]], where: str
) -> dict[str, Any]:
    checked = {}
    for key, value in raw.items():
        check = allowed.get(key)
        if check is None:
            raise _invalid(f"unknown {where} {key!r}; allowed: {', '.join(allowed)}")
        checked[key] = check(key, value)
    return checked


def parse_generate(body: Any) -> GenerateRequest:
    """TGI's body: `{"inputs": str, "parameters": {...}}`; `stream` may be true or absent."""
    body = _object("the body", body)
    unknown = set(body) - {"inputs", "parameters", "stream"}
    if unknown:
        raise _invalid(f"unknown field {sorted(unknown)[0]!r}; allowed: inputs, parameters, stream")
    inputs = body.get("inputs")
    if not isinstance(inputs, str) or not inputs.strip():
        raise _invalid("inputs must be a non-empty string (the prompt)")
    if body.get("stream", True) is not True:
        raise _invalid("stream must be true on /generate_stream (it always streams)")
    raw_parameters = body.get("parameters")
    parameters = _parameters(
        _object("parameters", {} if raw_parameters is None else raw_parameters),
        GENERATE_PARAMETERS,
        "parameter",
    )
    return GenerateRequest(inputs, parameters)


def parse_chat(body: Any) -> ChatRequest:
    """OpenAI's chat body: `messages` plus sampling fields; `stream` picks SSE or one JSON answer."""
    body = _object("the body", body)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _invalid("messages must be a non-empty list of {role, content} objects")
    checked_messages = []
    for i, message in enumerate(messages):
        if (
            not isinstance(message, dict)
            or message.get("role") not in CHAT_ROLES
            or not isinstance(message.get("content"), str)
            or set(message) - {"role", "content", "name"}
        ):
            raise _invalid(
                f"messages[{i}] must be an object with role ({', '.join(CHAT_ROLES)}) and string content"
            )
        checked_messages.append({"role": message["role"], "content": message["content"]})
    stream = body.get("stream", False)
    _boolean("stream", stream)
    rest = {k: v for k, v in body.items() if k not in {"messages", "stream", *CHAT_IGNORED}}
    return ChatRequest(checked_messages, _parameters(rest, CHAT_PARAMETERS, "field"), stream)
