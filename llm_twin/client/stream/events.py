"""One event's data as JSON, the part every stream shares: `[DONE]` and the error payload.

TGI (and the Messages API) put an error in the stream as an event of its own,
`{"error", "error_type"}`; it maps to the `GenerationError` subclass its type names.
vLLM writes OpenAI's `{"error": {"message", "type", "param", "code"}}`, whose `type` is a
class name ("BadRequestError") and whose `code` is the HTTP status: it maps by that status
(`status_error`), the way its answers outside a stream do.
"""

from __future__ import annotations

import json
from typing import Any

from llm_twin.errors import (
    GENERATION_ERRORS,
    GenerationError,
    OverloadedError,
    StreamParseError,
    ValidationError,
    generation_error,
)

__all__ = ["DONE", "event_object", "openai_error", "status_error"]

DONE = "[DONE]"
"""The Messages API's last event; TGI's generate_stream may send it too."""


def event_object(raw: bytes) -> dict[str, Any] | None:
    """One event's JSON object, or None for `[DONE]`; a TGI error payload raises."""
    data = raw.decode()
    if data.strip() == DONE:
        return None
    obj = _decode_json(data)
    if type(obj) is not dict:
        raise StreamParseError(f"expected a JSON object, got {data[:200]!r}")
    if obj.get("error") is not None:
        raise _error_from_payload(obj)
    return obj


def _decode_json(data: str) -> Any:
    # A str, never bytes: json.loads guesses UTF-16 or UTF-32 for bytes that start with NULs.
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise StreamParseError(f"event data is not JSON: {data[:200]!r}") from exc


def status_error(message: str, status: int) -> GenerationError:
    """An error an OpenAI-style server answered with HTTP `status`, as the class TGI's answer
    of the same kind maps to: the request refused (400, 422) is a ValidationError, a full
    queue (429, 503) an OverloadedError, the rest a GenerationError."""
    if status in (400, 422):
        return ValidationError(message)
    if status in (429, 503):
        return OverloadedError(message)
    return GenerationError(message)


def openai_error(error: dict[str, Any]) -> GenerationError:
    """OpenAI's (vLLM's) error object `{"message", "type", "param", "code"}` as our error."""
    message = str(error.get("message", error))
    error_type = error.get("type")
    if isinstance(error_type, str) and error_type in GENERATION_ERRORS:
        return generation_error(message, error_type)
    code = error.get("code")
    if type(code) is int:
        return status_error(message, code)
    return generation_error(message, error_type if isinstance(error_type, str) else None)


def _error_from_payload(obj: dict[str, Any]) -> GenerationError:
    error = obj["error"]
    error_type = obj.get("error_type")
    if isinstance(error, dict):
        if error_type is None:
            return openai_error(error)
        error = error.get("message", error)
    return generation_error(str(error), error_type if isinstance(error_type, str) else None)
