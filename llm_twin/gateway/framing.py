"""Server-sent event bytes for browsers (pure logic, no I/O).

`/generate_stream` frames are TGI's own, so TGI clients (huggingface_hub, our
`llm_twin.client.stream.tgi`) read the gateway as they read TGI. `/v1/chat/completions` frames are
OpenAI's `chat.completion.chunk`s ending with `data: [DONE]`. A failure becomes one
error event in the same shape TGI or OpenAI use, plus `partial_text`: the text the
browser already has, so it can keep it.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

import msgspec

from llm_twin.client.stream.chat import ChatDelta
from llm_twin.client.stream.tgi import TokenEvent
from llm_twin.errors import (
    GENERATION_ERRORS,
    AwsError,
    EndpointFailedError,
    EndpointNotFoundError,
    EndpointNotReadyError,
    InferenceError,
    LlmTwinError,
    OverloadedError,
    StreamTimeoutError,
    ValidationError,
)

__all__ = [
    "DONE",
    "ChatStreamIdentity",
    "chat_chunk",
    "chat_completion",
    "chat_error",
    "error_frame",
    "error_status",
    "error_type",
    "tgi_error",
    "token_frame",
]

DONE = b"data: [DONE]\n\n"
_encode = msgspec.json.Encoder().encode
_ERROR_TYPES = {cls: name for name, cls in GENERATION_ERRORS.items()}


def _frame(data: bytes) -> bytes:
    # JSON never holds a raw line break, so one `data:` line always carries the whole event.
    return b"data: " + data + b"\n\n"


def token_frame(event: TokenEvent) -> bytes:
    """One TGI `generate_stream` event, as TGI writes it."""
    return _frame(_encode(event))


def error_type(exc: LlmTwinError) -> str:
    """TGI's `error_type` for its own errors; a snake-case name for ours."""
    for cls in type(exc).__mro__:
        if cls in _ERROR_TYPES:
            return _ERROR_TYPES[cls]
    name = type(exc).__name__
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def error_status(exc: LlmTwinError) -> int:
    """The HTTP status for an error before any token: the caller's fault, or which upstream failure."""
    if isinstance(exc, ValidationError):
        return 422
    if isinstance(exc, OverloadedError | EndpointNotReadyError | EndpointFailedError):
        return 503
    if isinstance(exc, StreamTimeoutError):
        return 504
    if isinstance(exc, EndpointNotFoundError | AwsError | InferenceError):
        return 502
    return 500


def _partial(exc: LlmTwinError) -> str:
    return exc.partial_text if isinstance(exc, InferenceError) else ""


def tgi_error(exc: LlmTwinError) -> dict[str, str]:
    """TGI's error payload, plus the text generated before the failure."""
    return {"error": str(exc), "error_type": error_type(exc), "partial_text": _partial(exc)}


def chat_error(exc: LlmTwinError) -> dict[str, object]:
    """OpenAI's error payload, plus the text generated before the failure."""
    return {"error": {"message": str(exc), "type": error_type(exc)}, "partial_text": _partial(exc)}


def error_frame(payload: dict[str, object]) -> bytes:
    return _frame(_encode(payload))


@dataclass(frozen=True)
class ChatStreamIdentity:
    """What every chunk of one chat completion repeats."""

    model: str
    id: str = field(default_factory=lambda: f"chatcmpl-{uuid.uuid4().hex}")
    created: int = field(default_factory=lambda: int(time.time()))


def chat_chunk(identity: ChatStreamIdentity, delta: ChatDelta) -> bytes:
    """One OpenAI `chat.completion.chunk` carrying `delta`."""
    content: dict[str, str] = {}
    if delta.role:
        content["role"] = delta.role
    if delta.content or not delta.role:
        content["content"] = delta.content
    chunk = {
        "id": identity.id,
        "object": "chat.completion.chunk",
        "created": identity.created,
        "model": identity.model,
        "choices": [{"index": 0, "delta": content, "logprobs": None, "finish_reason": delta.finish_reason}],
    }
    return _frame(_encode(chunk))


def chat_completion(
    identity: ChatStreamIdentity, content: str, finish_reason: str | None
) -> dict[str, object]:
    """The non-streaming answer, `chat.completion`."""
    return {
        "id": identity.id,
        "object": "chat.completion",
        "created": identity.created,
        "model": identity.model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "logprobs": None,
                "finish_reason": finish_reason,
            }
        ],
    }
