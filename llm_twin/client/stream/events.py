"""One event's data as JSON, the part every TGI stream shares: `[DONE]` and the error payload.

TGI (and the Messages API) put an error in the stream as an event of its own,
`{"error", "error_type"}`; it maps to the `GenerationError` subclass its type names.
"""

from __future__ import annotations

import json
from typing import Any

from llm_twin.errors import GenerationError, StreamParseError, generation_error

__all__ = ["DONE", "event_object"]

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


def _error_from_payload(obj: dict[str, Any]) -> GenerationError:
    error = obj["error"]
    error_type = obj.get("error_type")
    if isinstance(error, dict):
        # The OpenAI-style shape {"error": {"message", "type"}} some servers send.
        error_type = error_type or error.get("type")
        error = error.get("message", error)
    return generation_error(str(error), error_type if isinstance(error_type, str) else None)
