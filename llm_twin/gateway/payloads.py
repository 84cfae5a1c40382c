"""What a client may send the gateway: TGI's bodies, checked as TGI checks them (pure logic).

TGI's router reads a body in two steps, and so does this module:
- deserialization (serde): every known field must have its type, `null` allowed where TGI's
  field is an Option; unknown fields are ignored, as serde ignores them. Here they are dropped,
  so nothing the gateway does not understand reaches the endpoint;
- validation: `llm_twin.protocol.tgi`'s checks (the one owner of TGI's rules), in TGI's order
  and with TGI's words ("Input validation error: `top_p` must be > 0.0 and < 1.0").
What depends on the endpoint's own limits (prompt length, `max_new_tokens` against
MAX_TOTAL_TOKENS, `truncate`, `top_n_tokens`) is left to the endpoint, which answers as TGI.

The gateway adds no parameter of its own: a body goes on as it came, less its unknown keys.
A refusal is a `GatewayRequestError`: 400 for a body that is not JSON, 422 otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from llm_twin.errors import GatewayRequestError
from llm_twin.protocol.text import json_text_problem
from llm_twin.protocol.tgi import INPUT_VALIDATION, Limits, Sampling, parameter_problem, stream_problem

__all__ = ["ChatRequest", "GenerateRequest", "parse_chat", "parse_generate", "parse_json"]

DESERIALIZE = "Failed to deserialize the JSON body into the target type"
"""axum's words for a body serde refuses (TGI answers them as plain text; the gateway as JSON)."""

U32 = 2**32 - 1
U64 = 2**64 - 1
I32 = 2**31 - 1


@dataclass(frozen=True)
class GenerateRequest:
    """A TGI generate body, checked: what goes to the endpoint, and whether it streams."""

    body: dict[str, Any]
    stream: bool


@dataclass(frozen=True)
class ChatRequest:
    """A Messages API body, checked: what goes to the endpoint, and whether it streams."""

    body: dict[str, Any]
    stream: bool


def _refused(message: str) -> GatewayRequestError:
    return GatewayRequestError(422, message)


def _wrong_type(where: str, value: object, expected: str) -> GatewayRequestError:
    return _refused(f"{DESERIALIZE}: {where}: invalid type: {_json_kind(value)}, expected {expected}")


def _json_kind(value: object) -> str:
    """A JSON value named as serde names it in its messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean `{json.dumps(value)}`"
    if isinstance(value, int):
        return f"integer `{value}`"
    if isinstance(value, float):
        return f"floating point `{value}`"
    if isinstance(value, str):
        return f"string {json.dumps(value, ensure_ascii=False)}"
    return "sequence" if isinstance(value, list) else "map"


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def parse_json(body: bytes) -> Any:
    """The body as JSON; 400 when it is not (NaN and Infinity included, as serde_json refuses them).

    JSON that escapes a lone surrogate is a 422 here: the endpoint's tokenizer cannot
    encode it, and it is refused before it costs an invocation.
    """
    try:
        value = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise GatewayRequestError(400, f"Failed to parse the request body as JSON: {exc}") from None
    problem = json_text_problem(value)
    if problem:
        raise _refused(problem)
    return value


# -- serde's types ---------------------------------------------------------------------------

Check = Callable[[str, Any], None]


def _optional(check: Check) -> Check:
    def optional(where: str, value: Any) -> None:
        if value is not None:
            check(where, value)

    return optional


def _boolean(where: str, value: Any) -> None:
    if type(value) is not bool:
        raise _wrong_type(where, value, "a boolean")


def _float(where: str, value: Any) -> None:
    if type(value) not in (int, float):
        raise _wrong_type(where, value, "f32")


def _unsigned(bits_max: int, name: str) -> Check:
    def check(where: str, value: Any) -> None:
        if type(value) is not int:
            raise _wrong_type(where, value, name)
        if not 0 <= value <= bits_max:
            raise _refused(f"{DESERIALIZE}: {where}: invalid value: integer `{value}`, expected {name}")

    return check


def _i32(where: str, value: Any) -> None:
    if type(value) is not int:
        raise _wrong_type(where, value, "i32")
    if not -I32 - 1 <= value <= I32:
        raise _refused(f"{DESERIALIZE}: {where}: invalid value: integer `{value}`, expected i32")


def _string(where: str, value: Any) -> None:
    if type(value) is not str:
        raise _wrong_type(where, value, "a string")


def _strings(where: str, value: Any) -> None:
    if type(value) is not list:
        raise _wrong_type(where, value, "a sequence")
    for i, item in enumerate(value):
        _string(f"{where}[{i}]", item)


def _object(where: str, value: Any) -> None:
    if type(value) is not dict:
        raise _wrong_type(where, value, "a map")


def _grammar(where: str, value: Any) -> None:
    _object(where, value)
    if value.get("type") not in ("json", "json_object", "regex"):
        raise _refused(
            f"{DESERIALIZE}: {where}.type: unknown variant {json.dumps(value.get('type'))}, "
            "expected one of `json`, `json_object`, `regex`"
        )


# TGI 3.3's `GenerateParameters` (router/src/lib.rs): each field and the type serde reads it as.
GENERATE_FIELDS: dict[str, Check] = {
    "best_of": _optional(_unsigned(U64, "usize")),
    "temperature": _optional(_float),
    "repetition_penalty": _optional(_float),
    "frequency_penalty": _optional(_float),
    "top_k": _optional(_i32),
    "top_p": _optional(_float),
    "typical_p": _optional(_float),
    "do_sample": _boolean,
    "max_new_tokens": _optional(_unsigned(U32, "u32")),
    "return_full_text": _optional(_boolean),
    "stop": _strings,
    "truncate": _optional(_unsigned(U64, "usize")),
    "watermark": _boolean,
    "details": _boolean,
    "decoder_input_details": _boolean,
    "seed": _optional(_unsigned(U64, "u64")),
    "top_n_tokens": _optional(_unsigned(U32, "u32")),
    "grammar": _optional(_grammar),
    "adapter_id": _optional(_string),
}

# TGI 3.3's `ChatRequest`, less `messages` and `stream` (read apart).
CHAT_FIELDS: dict[str, Check] = {
    "model": _optional(_string),
    "frequency_penalty": _optional(_float),
    "logit_bias": _optional(lambda where, value: None),  # unused by TGI, any shape kept
    "logprobs": _optional(_boolean),
    "top_logprobs": _optional(_unsigned(U32, "u32")),
    "max_tokens": _optional(_unsigned(U32, "u32")),
    "max_completion_tokens": _optional(_unsigned(U32, "u32")),
    "n": _optional(_unsigned(U32, "u32")),
    "presence_penalty": _optional(_float),
    "seed": _optional(_unsigned(U64, "u64")),
    "temperature": _optional(_float),
    "top_p": _optional(_float),
    "tools": _optional(lambda where, value: _object(f"{where}[0]", value[0]) if value else None),
    "tool_prompt": _optional(_string),
    "tool_choice": lambda where, value: None,  # a string or an object; TGI reads either
    "response_format": _optional(_grammar),
    "stream_options": _optional(_object),
    "stop": _optional(_strings),
    "user": _optional(_string),
}
MESSAGE_FIELDS = ("role", "content", "name", "tool_calls", "tool_call_id")


def _known(raw: Mapping[str, Any], fields: Mapping[str, Check], where: str) -> dict[str, Any]:
    """The known fields of `raw`, each of its type; the rest dropped, as serde ignores them."""
    kept = {}
    for name, check in fields.items():
        if name in raw:
            check(f"{where}{name}", raw[name])
            kept[name] = raw[name]
    return kept


# -- TGI's validation --------------------------------------------------------------------------

LAUNCHER_LIMITS = Limits(max_input_tokens=0, max_total_tokens=0)
"""TGI's launcher defaults for the checks that need no tokenizer (stop sequences, top_n_tokens);
the token counts are the endpoint's to check, and `parameter_problem` does not read them."""


def _validate(sampling: Sampling) -> None:
    """TGI's checks that hold on every endpoint, in the order its `validate()` runs them."""
    problem = parameter_problem(sampling, LAUNCHER_LIMITS)
    if problem:
        raise _refused(INPUT_VALIDATION + problem)


def parse_generate(body: Any, *, stream: bool | None = None) -> GenerateRequest:
    """TGI's `{"inputs", "parameters", "stream"}`; `stream` forces the route's own answer kind
    (`/generate_stream` always streams, `/generate` never), None lets the body's `stream` say."""
    _object("the body", body)
    if "inputs" not in body:
        raise _refused(f"{DESERIALIZE}: missing field `inputs`")
    _string("inputs", body["inputs"])
    if stream is None:
        stream = body.get("stream", False)
        _boolean("stream", stream)
    raw = body.get("parameters")
    relayed: dict[str, Any] = {"inputs": body["inputs"]}
    if raw is not None:
        _object("parameters", raw)
        parameters = _known(raw, GENERATE_FIELDS, "parameters.")
        if stream:
            problem = stream_problem(
                best_of=parameters.get("best_of"),
                decoder_input_details=bool(parameters.get("decoder_input_details")),
            )
            if problem:
                raise _refused(INPUT_VALIDATION + problem)
        _validate(
            Sampling(
                best_of=parameters.get("best_of"),
                do_sample=bool(parameters.get("do_sample")),
                temperature=parameters.get("temperature"),
                repetition_penalty=parameters.get("repetition_penalty"),
                frequency_penalty=parameters.get("frequency_penalty"),
                top_k=parameters.get("top_k"),
                top_p=parameters.get("top_p"),
                typical_p=parameters.get("typical_p"),
                max_new_tokens=parameters.get("max_new_tokens"),
                stop_count=len(parameters.get("stop") or ()),
                seed=parameters.get("seed"),
                top_n_tokens=parameters.get("top_n_tokens"),
            )
        )
        relayed["parameters"] = parameters
    if not body["inputs"]:
        raise _refused(f"{INPUT_VALIDATION}`inputs` cannot be empty")
    relayed["stream"] = stream
    return GenerateRequest(relayed, stream)


def _message(where: str, message: Any) -> dict[str, Any]:
    _object(where, message)
    if "role" not in message:
        raise _refused(f"{DESERIALIZE}: {where}: missing field `role`")
    _string(f"{where}.role", message["role"])
    content = message.get("content")
    if content is not None and type(content) not in (str, list):
        raise _wrong_type(f"{where}.content", content, "a string or a sequence of chunks")
    return {key: message[key] for key in MESSAGE_FIELDS if key in message}


def parse_chat(body: Any) -> ChatRequest:
    """The Messages API's body (TGI's `ChatRequest`); `stream` picks SSE or one JSON answer."""
    _object("the body", body)
    if "messages" not in body:
        raise _refused(f"{DESERIALIZE}: missing field `messages`")
    messages = body["messages"]
    if type(messages) is not list:
        raise _wrong_type("messages", messages, "a sequence")
    if not messages:
        raise _refused(f"{INPUT_VALIDATION}`messages` cannot be empty")
    relayed: dict[str, Any] = {"messages": [_message(f"messages[{i}]", m) for i, m in enumerate(messages)]}
    stream = body.get("stream", False)
    _boolean("stream", stream)
    relayed.update(_known(body, CHAT_FIELDS, ""))
    temperature = relayed.get("temperature")
    # TGI's chat route: temperature 0 is greedy decoding; any other goes to validation.
    _validate(
        Sampling(
            do_sample=temperature != 0,
            temperature=None if temperature == 0 else temperature,
            frequency_penalty=relayed.get("frequency_penalty"),
            top_p=relayed.get("top_p"),
            max_new_tokens=relayed.get("max_tokens", relayed.get("max_completion_tokens")),
            stop_count=len(relayed.get("stop") or ()),
            seed=relayed.get("seed"),
            top_n_tokens=relayed.get("top_logprobs"),
        )
    )
    relayed["stream"] = stream
    return ChatRequest(relayed, stream)
