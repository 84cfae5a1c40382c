"""The gateway's own bytes and error bodies, read back by the clients people use (pure logic)."""

from __future__ import annotations

import json

import openai
import pytest

from llm_twin.client.stream import parse_chat_stream, parse_generate_stream
from llm_twin.errors import (
    EndpointNotReadyError,
    GatewayRequestError,
    IncompleteGenerationError,
    ModelStreamError,
    OverloadedError,
    StreamTimeoutError,
    ValidationError,
)
from llm_twin.gateway import framing


def test_an_event_is_one_data_line_with_tgis_space() -> None:
    assert framing.event(b'{"a":1}') == b'data: {"a":1}\n\n'
    assert framing.event({"é": "🌸"}) == 'data: {"é":"🌸"}\n\n'.encode()


def test_a_cut_generate_stream_ends_with_an_incomplete_generation_event() -> None:
    frame = framing.event(framing.tgi_error("cut", framing.error_type(ModelStreamError("cut"))))
    assert json.loads(frame[6:]) == {"error": "cut", "error_type": "incomplete_generation"}
    with pytest.raises(IncompleteGenerationError):
        list(parse_generate_stream([frame]))


def test_a_chat_stream_error_is_tgis_shape_and_the_openai_sdk_raises_its_message() -> None:
    frame = framing.chat_stream_error("Input validation error: boom")
    assert json.loads(frame[6:]) == {
        "error": {"message": "Input validation error: boom", "http_status_code": 422}
    }
    with pytest.raises(ValidationError.__mro__[2]):  # InferenceError: our own Messages API parser raises
        list(parse_chat_stream([frame + framing.DONE]))
    decoder = openai._streaming.SSEDecoder()
    events = list(decoder.iter_bytes(iter([frame])))
    assert events[0].json()["error"]["message"] == "Input validation error: boom"


def test_an_openai_refusal_names_the_parameter_and_keeps_tgis_type() -> None:
    body = framing.openai_error("Input validation error: `top_p` must be > 0.0 and < 1.0", "validation", 422)
    assert body == {
        "error": {
            "message": "Input validation error: `top_p` must be > 0.0 and < 1.0",
            "type": "invalid_request_error",
            "param": "top_p",
            "code": "validation",
        }
    }
    serde = framing.openai_error(
        "Failed to deserialize the JSON body into the target type: max_tokens: x", "validation", 422
    )
    assert serde["error"]["param"] == "max_tokens"
    assert framing.openai_error("no endpoint", "endpoint_not_found", 502)["error"]["type"] == "server_error"


@pytest.mark.parametrize(
    ("error", "status", "error_type"),
    [
        (ValidationError("too long"), 422, "validation"),
        (OverloadedError("busy"), 429, "overloaded"),
        (EndpointNotReadyError("Creating"), 503, "endpoint_not_ready"),
        (StreamTimeoutError("silent"), 504, "incomplete_generation"),
        (ModelStreamError("cut"), 502, "incomplete_generation"),
        (GatewayRequestError(422, "bad"), 422, "validation"),
        (GatewayRequestError(413, "big"), 413, "payload_too_large"),
    ],
)
def test_an_error_before_any_token_maps_to_an_http_status(error, status: int, error_type: str) -> None:
    assert framing.error_status(error) == status
    assert framing.error_type(error) == error_type
