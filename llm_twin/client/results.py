"""What a whole (not streamed) answer is: TGI's generate answer, vLLM's completion and the
Messages API's (the same on both), typed.

Shared by the realtime calls (`endpoint.py`) and the async ones (`async_.py`), which read the
same JSON from S3.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from llm_twin.client.stream.vllm import tgi_finish_reason
from llm_twin.errors import StreamParseError

__all__ = [
    "ChatResult",
    "GenerationResult",
    "chat_result",
    "completion_result",
    "decode_answer",
    "generation_result",
    "with_details",
]


@dataclass(frozen=True)
class GenerationResult:
    """The end of a generation: what `inference()` returns as text and `stream()` yields last."""

    text: str
    """The generated text (special tokens excluded)."""
    finish_reason: str | None
    """`length`, `eos_token` or `stop_sequence`; None when the server sent no details."""
    generated_tokens: int | None
    """How many tokens were generated; None when the server did not say."""


@dataclass(frozen=True)
class ChatResult:
    """A Messages API answer, reduced to its first choice."""

    content: str
    """The assistant's message."""
    finish_reason: str | None
    """`stop`, `length`, ...; None when the server sent none."""


def decode_answer(raw: bytes) -> Any:
    """The endpoint's answer as JSON; StreamParseError when it is not."""
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise StreamParseError(f"the endpoint answered with non-JSON: {raw[:200]!r}") from exc


def generation_result(raw: bytes) -> GenerationResult:
    """TGI's generate answer (an object, or a list of one) as a typed result."""
    answer = decode_answer(raw)
    if isinstance(answer, list):
        answer = answer[0] if answer else {}
    if not isinstance(answer, dict) or "generated_text" not in answer:
        raise StreamParseError(f"not a TGI generate answer: {str(answer)[:200]!r}")
    details = answer.get("details") or {}
    return GenerationResult(
        answer["generated_text"], details.get("finish_reason"), details.get("generated_tokens")
    )


def completion_result(raw: bytes) -> GenerationResult:
    """vLLM's `text_completion` answer as TGI's result: its first choice, the finish reason in
    TGI's words, `usage.completion_tokens` as the token count."""
    answer = decode_answer(raw)
    try:
        choice = answer["choices"][0]
        text = choice["text"]
        finish_reason = choice.get("finish_reason")
        usage = answer.get("usage") or {}
        tokens = usage.get("completion_tokens")
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise StreamParseError(f"not a text_completion: {str(answer)[:200]!r}") from exc
    if type(text) is not str or not (tokens is None or type(tokens) is int):
        raise StreamParseError(f"not a text_completion: {str(answer)[:200]!r}")
    if isinstance(finish_reason, str):
        finish_reason = tgi_finish_reason(finish_reason, choice.get("stop_reason"))
    return GenerationResult(text, finish_reason, tokens)


def chat_result(raw: bytes) -> ChatResult:
    """A `chat.completion` as its first choice."""
    answer = decode_answer(raw)
    try:
        choice = answer["choices"][0]
        return ChatResult(choice["message"].get("content") or "", choice.get("finish_reason"))
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise StreamParseError(f"not a chat.completion: {str(answer)[:200]!r}") from exc


def with_details(payload: dict[str, Any]) -> dict[str, Any]:
    """Ask for the finish details and only the new text, unless the caller said otherwise.

    The details feed `GenerationResult`. TGI answers /invocations as POST /, whose
    return_full_text defaults to true for a text-generation model: without `false` the final
    event's generated_text starts with the prompt while the streamed tokens do not.
    """
    asked = payload.get("parameters") or {}
    return {**payload, "parameters": {"details": True, "return_full_text": False, **asked}}
