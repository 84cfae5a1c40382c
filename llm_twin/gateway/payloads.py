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
from llm_twin.protocol.tgi import (
    CHAT_TEMPERATURE,
    CHAT_TOP_P,
    MAX_NEW_TOKENS,
    MAX_STOP_SEQUENCES,
    OPENAI_PENALTY,
    REPETITION_PENALTY,
    SEED,
    TEMPERATURE,
    TOP_K,
    TOP_P,
    Interval,
)

__all__ = ["ChatRequest", "GenerateRequest", "parse_chat", "parse_generate", "parse_json"]

MAX_NEW_TOKENS_LIMIT = 8192
"""The gateway's own cap, far above what MAX_TOTAL_TOKENS allows on our endpoints; TGI enforces
the real bound. Every other range is TGI's (`llm_twin.protocol.tgi`)."""
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


def _integer(allowed: Interval) -> Callable[[str, Any], int]:
    def check(name: str, value: Any) -> int:
        if type(value) is not int or value not in allowed:
            raise _invalid(f"{name} must be a whole number {allowed}, got {json.dumps(value)}")
        return value

    return check


def _number(allowed: Interval, *, whole: bool = False) -> Callable[[str, Any], float | None]:
    what = f"a whole number {allowed}, or null" if whole else f"a number {allowed}, or null"

    def check(name: str, value: Any) -> float | None:
        if value is None:
            return None
        if (
            type(value) not in (int, float)
            or not math.isfinite(value)
            or value not in allowed
            or (whole and value != int(value))
        ):
            raise _invalid(f"{name} must be {what}, got {json.dumps(value)}")
        number: float = value
        return number

    return check


def _boolean(name: str, value: Any) -> bool:
    if type(value) is not bool:
        raise _invalid(f"{name} must be true or false, got {json.dumps(value)}")
    return value


def _stop(name: str, value: Any) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if (
        not isinstance(value, list)
        or len(value) > MAX_STOP_SEQUENCES
        or not all(isinstance(s, str) and s for s in value)
    ):
        raise _invalid(
            f"{name} must be a non-empty string or a list of up to {MAX_STOP_SEQUENCES}, got {json.dumps(value)}"
        )
    return value


_NEW_TOKENS = _integer(MAX_NEW_TOKENS.interval.capped(MAX_NEW_TOKENS_LIMIT))
_SEED = _integer(SEED.interval)

GENERATE_PARAMETERS: dict[str, Callable[[str, Any], Any]] = {
    MAX_NEW_TOKENS.name: _NEW_TOKENS,
    TEMPERATURE.name: _number(TEMPERATURE.interval),
    TOP_P.name: _number(TOP_P.interval),
    TOP_K.name: _number(TOP_K.interval, whole=True),
    REPETITION_PENALTY.name: _number(REPETITION_PENALTY.interval),
    "do_sample": _boolean,
    SEED.name: _SEED,
    "stop": _stop,
    "details": _boolean,
    "return_full_text": _boolean,
}
CHAT_PARAMETERS: dict[str, Callable[[str, Any], Any]] = {
    "max_tokens": _NEW_TOKENS,
    # The Messages API takes OpenAI's meanings: temperature 0 is greedy, top_p 1 no cut.
    CHAT_TEMPERATURE.name: _number(CHAT_TEMPERATURE.interval),
    CHAT_TOP_P.name: _number(CHAT_TOP_P.interval),
    SEED.name: _SEED,
    "stop": _stop,
    "frequency_penalty": _number(OPENAI_PENALTY),
    "presence_penalty": _number(OPENAI_PENALTY),
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
