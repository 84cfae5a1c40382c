"""The OpenAI-shaped bodies (Messages API, /v1/completions) mapped onto TGI's parameters, as TGI does.

TGI's `ChatRequest::try_into_generate` and `completions` (research.md A4): temperature 0 is
greedy and any other temperature samples; `presence_penalty` becomes `repetition_penalty`
+ 2; `max_tokens` (alias `max_completion_tokens`) is `max_new_tokens`; `top_logprobs` is
`top_n_tokens`; `response_format` (and tools) become a grammar; `details` is always on.
`n`, `logit_bias` and unknown fields are ignored, as serde ignores them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import ToolError
from .params import GenerateParameters, ParameterError, parse_parameters


@dataclass(frozen=True)
class ChatRequest:
    """A Messages API body, read."""

    messages: list[dict[str, str]]
    """Role and flat text content of each message, for the chat template."""
    parameters: GenerateParameters
    stream: bool
    include_usage: bool
    """`stream_options.include_usage`: one last chunk with the usage and no choices."""
    logprobs: bool
    model: str | None


@dataclass(frozen=True)
class CompletionRequest:
    """A /v1/completions body, read."""

    prompts: list[str]
    parameters: GenerateParameters
    stream: bool
    model: str | None
    suffix: bool
    """A `suffix` was given: TGI refuses it."""


def _message_text(message: Mapping[str, object]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for chunk in content:
            if not isinstance(chunk, dict):
                raise ParameterError("message chunks must be objects")
            if chunk.get("type") == "text" and isinstance(chunk.get("text"), str):
                parts.append(chunk["text"])
            elif chunk.get("type") == "image_url" and isinstance(chunk.get("image_url"), dict):
                parts.append(f"![]({chunk['image_url'].get('url', '')})")  # as TGI's TextMessage
            else:
                raise ParameterError("message chunks are {type: text, text} or {type: image_url, image_url}")
        return "".join(parts)
    if content is None and isinstance(message.get("tool_calls"), list):
        return json.dumps(message["tool_calls"], separators=(",", ":"))  # TGI sends them as text
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
        flat.append({"role": message["role"], "content": _message_text(message)})
    return flat


def _sampling(body: Mapping[str, object]) -> dict[str, object]:
    """temperature 0 is greedy; any other (or none) samples."""
    temperature = body.get("temperature")
    if isinstance(temperature, (int, float)) and not isinstance(temperature, bool) and temperature == 0:
        return {"do_sample": False, "temperature": None}
    return {"do_sample": True, "temperature": temperature}


def _stop(body: Mapping[str, object]) -> object:
    return body.get("stop") or []


def _model(body: Mapping[str, object]) -> str | None:
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise ParameterError("`model` must be a string")
    return model


def _bool(body: Mapping[str, object], name: str) -> bool:
    value = body.get(name)
    if value is not None and not isinstance(value, bool):
        raise ParameterError(f"`{name}` must be a boolean")
    return bool(value)


def parse_chat_request(body: Mapping[str, object]) -> ChatRequest:
    """A Messages API body as TGI reads it; raises ParameterError (shape) or ToolError."""
    messages = chat_messages(body)
    presence = body.get("presence_penalty")
    if presence is not None and (isinstance(presence, bool) or not isinstance(presence, (int, float))):
        raise ParameterError("`presence_penalty` must be a number")
    max_tokens = body.get("max_tokens", body.get("max_completion_tokens"))
    response_format = body.get("response_format")
    tools = body.get("tools")
    if response_format is not None and tools is not None:
        raise ToolError("Tool error: Grammar and tools are mutually exclusive")
    grammar = response_format
    if grammar is None and tools and body.get("tool_choice") != "none":
        grammar = {"type": "json", "value": tools}  # TGI's tool grammar: refused below, like any grammar
    stream_options = body.get("stream_options")
    if stream_options is not None and not isinstance(stream_options, dict):
        raise ParameterError("`stream_options` must be an object")
    params = parse_parameters(
        {
            **_sampling(body),
            "max_new_tokens": max_tokens,
            "top_p": body.get("top_p"),
            "repetition_penalty": None if presence is None else float(presence) + 2.0,
            "frequency_penalty": body.get("frequency_penalty"),
            "stop": _stop(body),
            "seed": body.get("seed"),
            "top_n_tokens": body.get("top_logprobs"),
            "details": True,
            "grammar": grammar,
        }
    )
    return ChatRequest(
        messages=messages,
        parameters=params,
        stream=_bool(body, "stream"),
        include_usage=_bool(stream_options or {}, "include_usage"),
        logprobs=_bool(body, "logprobs"),
        model=_model(body),
    )


def parse_completion_request(body: Mapping[str, object]) -> CompletionRequest:
    """A /v1/completions body as TGI reads it (`prompt`: a string or a non-empty list of them)."""
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        prompts = [prompt]
    elif isinstance(prompt, list) and prompt and all(isinstance(p, str) for p in prompt):
        prompts = list(prompt)
    else:
        raise ParameterError("`prompt` must be a string or a non-empty list of strings")
    stream = _bool(body, "stream")
    params = parse_parameters(
        {
            **_sampling(body),
            "max_new_tokens": body.get("max_tokens"),
            "top_p": body.get("top_p"),
            "repetition_penalty": body.get("repetition_penalty"),
            "frequency_penalty": body.get("frequency_penalty"),
            "stop": _stop(body),
            "seed": body.get("seed"),
            "details": True,
            "decoder_input_details": not stream,
        }
    )
    return CompletionRequest(
        prompts=prompts,
        parameters=params,
        stream=stream,
        model=_model(body),
        suffix=body.get("suffix") is not None,
    )
