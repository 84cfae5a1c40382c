"""The bytes and error bodies the gateway answers with, as TGI 3.3 and OpenAI write them (pure logic).

Events are relayed as the endpoint wrote them, one `data: <json>` line and a blank line each
(axum 0.7's framing, with the space). What the gateway adds itself:

    generate routes   an error is TGI's `{"error", "error_type"}`, as JSON before the stream
                      (with its status) or as the stream's last event (no `[DONE]` follows, as on TGI)
    /v1/chat/...      a refusal before the stream is OpenAI's `{"error": {"message", "type",
                      "param", "code"}}`, so the openai SDK raises its class for the status with
                      the message; an error inside the stream is TGI 3.x's
                      `{"error": {"message", "http_status_code": 422}}`, then `data: [DONE]`
"""

from __future__ import annotations

import re

import msgspec

from llm_twin.errors import (
    GENERATION_ERRORS,
    AwsError,
    EndpointFailedError,
    EndpointNotFoundError,
    EndpointNotReadyError,
    GatewayRequestError,
    InferenceError,
    LlmTwinError,
    OverloadedError,
    StreamTimeoutError,
    ValidationError,
)
from llm_twin.protocol import tgi
from llm_twin.protocol.tgi import error_body

__all__ = [
    "DONE",
    "INCOMPLETE",
    "chat_stream_error",
    "error_status",
    "error_type",
    "event",
    "openai_error",
    "tgi_error",
]

DONE = b"data: [DONE]\n\n"
INCOMPLETE = "incomplete_generation"
"""The error type of a stream cut short: both TGI clients raise IncompleteGenerationError for it."""
_encode = msgspec.json.Encoder().encode
_ERROR_TYPES = {cls: name for name, cls in GENERATION_ERRORS.items()}
REFUSAL_TYPES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    408: "request_timeout",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation",
}
"""`error_type` of the gateway's own refusals; 422 is TGI's `validation`, so TGI clients raise ValidationError."""


def event(data: bytes | object) -> bytes:
    """One server-sent event: `data` as it came (bytes), or encoded as JSON."""
    # JSON never holds a raw line break, so one `data:` line always carries the whole event.
    raw = data if isinstance(data, bytes) else _encode(data)
    return b"data: " + raw + b"\n\n"


def error_type(exc: LlmTwinError) -> str:
    """TGI's `error_type` for an error (a cut stream is `incomplete_generation`)."""
    if isinstance(exc, GatewayRequestError):
        return REFUSAL_TYPES.get(exc.status, "bad_request")
    for cls in type(exc).__mro__:
        if cls in _ERROR_TYPES:
            return _ERROR_TYPES[cls]
    if isinstance(exc, InferenceError):
        return INCOMPLETE
    name = type(exc).__name__.removesuffix("Error")
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def error_status(exc: LlmTwinError) -> int:
    """The HTTP status for an error before any token: the caller's fault, or which upstream failure."""
    if isinstance(exc, GatewayRequestError):
        return exc.status
    if isinstance(exc, ValidationError):
        return 422
    if isinstance(exc, OverloadedError):
        return 429
    if isinstance(exc, EndpointNotReadyError | EndpointFailedError):
        return 503
    if isinstance(exc, StreamTimeoutError):
        return 504
    if isinstance(exc, EndpointNotFoundError | AwsError | InferenceError):
        return 502
    return 500


def tgi_error(message: str, kind: str) -> dict[str, str]:
    """TGI's error body (and stream event)."""
    return error_body(message, kind)


def _param(message: str) -> str | None:
    # TGI's messages name the parameter first, in backticks ("`top_p` must be ..."); serde's
    # name its path ("...target type: parameters.top_k: invalid type ...").
    named = re.search(r"`(\w+)`", message) or re.search(r"target type: (?:\w+\.)?(\w+)", message)
    return named.group(1) if named else None


def openai_error(message: str, kind: str, status: int) -> dict[str, dict[str, str | None]]:
    """OpenAI's error body: its `type` says whose fault, `code` keeps TGI's `error_type`."""
    return {
        "error": {
            "message": message,
            "type": "invalid_request_error" if status < 500 else "server_error",
            "param": _param(message) if status == 422 else None,
            "code": kind,
        }
    }


def chat_stream_error(message: str) -> bytes:
    """An error inside a chat stream, as TGI 3.x writes it (`http_status_code` is always 422 there)."""
    return event(tgi.chat_stream_error(message))
