"""What each container is sent for a generation: the book's payload, as TGI or vLLM reads it.

The book's class keeps one payload, `{"inputs", "parameters"}` under TGI's names, whatever
the backend, so code written for the book runs unchanged on vLLM. It is translated when sent:

    tgi    the payload with `details` and `return_full_text: false` asked (`with_details`)
    vllm   OpenAI's completion body vLLM's /invocations dispatches on (`prompt`), TGI's
           meanings kept: sampling only when TGI would sample (`do_sample`, or temperature,
           top_k, top_p or typical_p given), else greedy (temperature 0); max_new_tokens is
           required: TGI fills the context's room without it, but vLLM's completions stop at
           16 tokens when it is absent or null (a 500 before vLLM #44721/#45491), and only the
           container knows the prompt's length; `stream_options.include_usage` when
           streaming, for the token count

A TGI parameter with no vLLM counterpart is refused (ValidationError, as TGI refuses one),
never dropped: the answer would not be what was asked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llm_twin.client.results import with_details
from llm_twin.errors import ValidationError
from llm_twin.protocol.backends import Backend

__all__ = ["TGI_DEFAULT_TEMPERATURE", "completion_body", "generate_body"]

TGI_DEFAULT_TEMPERATURE = 1.0
"""What TGI samples with when `do_sample` is on and no temperature is given."""
_SAME_NAME = ("top_p", "top_k", "seed", "repetition_penalty", "frequency_penalty")
"""TGI parameters vLLM's completion body takes under the same name and meaning."""
_DROPPED = ("details", "do_sample", "temperature", "max_new_tokens", "stop", "return_full_text")
"""Read by the translation itself; `details` is vLLM's answer anyway (finish reason, usage)."""
_WARPERS = ("temperature", "top_k", "top_p", "typical_p")


def generate_body(backend: Backend, payload: Mapping[str, Any], *, stream: bool) -> dict[str, Any]:
    """The body of one generation on `backend`, from the book's payload (its `stream` key ignored)."""
    if backend == "vllm":
        return completion_body(payload, stream=stream)
    base = {key: value for key, value in payload.items() if key != "stream"}
    return with_details({**base, "stream": True} if stream else base)


def completion_body(payload: Mapping[str, Any], *, stream: bool) -> dict[str, Any]:
    """vLLM's completion body for the book's TGI payload (see the module's docstring)."""
    parameters: Mapping[str, Any] = payload.get("parameters") or {}
    unknown = sorted(set(payload) - {"inputs", "parameters", "stream"})
    unknown += sorted(
        name
        for name, value in parameters.items()
        if name not in _SAME_NAME
        and name not in _DROPPED
        and value is not None
        and not (name == "best_of" and value == 1)
    )
    if unknown:
        raise ValidationError(
            f"{', '.join(unknown)}: no counterpart in vLLM's completion API (SERVING_BACKEND=vllm); "
            f"it takes inputs, max_new_tokens, temperature, do_sample, stop, return_full_text and "
            f"{', '.join(_SAME_NAME)}"
        )
    if parameters.get("max_new_tokens") is None:
        raise ValidationError(
            "max_new_tokens must be set on SERVING_BACKEND=vllm: without it vLLM's completions stop "
            "after 16 tokens; give a number of new tokens (at least 1)"
        )
    body: dict[str, Any] = {"prompt": payload.get("inputs", ""), "max_tokens": parameters["max_new_tokens"]}
    sampling = bool(parameters.get("do_sample")) or any(parameters.get(name) is not None for name in _WARPERS)
    if sampling:
        temperature = parameters.get("temperature")
        body["temperature"] = TGI_DEFAULT_TEMPERATURE if temperature is None else temperature
        body.update(
            {name: parameters[name] for name in ("top_p", "top_k") if parameters.get(name) is not None}
        )
    else:
        body["temperature"] = 0
    for name in ("seed", "repetition_penalty", "frequency_penalty"):
        if parameters.get(name) is not None:
            body[name] = parameters[name]
    stop = parameters.get("stop")
    if stop:
        body["stop"] = list(stop)
    if parameters.get("return_full_text"):
        body["echo"] = True
    body["stream"] = stream
    if stream:
        body["stream_options"] = {"include_usage": True}
    return body
