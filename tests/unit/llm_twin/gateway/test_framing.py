"""The SSE bytes, read back by our own TGI and Messages API parsers (pure logic)."""

from __future__ import annotations

import json

import pytest

from llm_twin.client.stream import (
    ChatDelta,
    StreamDetails,
    Token,
    TokenEvent,
    parse_chat_stream,
    parse_generate_stream,
)
from llm_twin.errors import (
    EndpointNotReadyError,
    ModelStreamError,
    OverloadedError,
    StreamTimeoutError,
    ValidationError,
)
from llm_twin.gateway import framing


def test_token_frames_are_read_back_unchanged_by_a_tgi_client() -> None:
    events = [
        TokenEvent(1, Token(5, "Hé", -0.5, False), None, None),
        TokenEvent(2, Token(2, "</s>", None, True), "Hé", StreamDetails("eos_token", 2, 9)),
    ]
    raw = b"".join(framing.token_frame(e) for e in events)
    assert raw.startswith(b"data: {") and raw.count(b"\n\n") == 2
    assert list(parse_generate_stream([raw])) == events


def test_a_mid_stream_error_frame_raises_in_a_tgi_client_and_carries_the_partial_text() -> None:
    error = OverloadedError("queue is full", partial_text="Once upon")
    frame = framing.error_frame(framing.tgi_error(error))
    assert json.loads(frame[6:]) == {
        "error": "queue is full",
        "error_type": "overloaded",
        "partial_text": "Once upon",
    }
    with pytest.raises(OverloadedError):
        list(parse_generate_stream([frame]))


def test_chat_chunks_are_openai_chunks_read_back_by_a_messages_api_client() -> None:
    identity = framing.ChatStreamIdentity(model="llm-twin-endpoint")
    deltas = [ChatDelta("", None, "assistant"), ChatDelta("Hi", None), ChatDelta("!", "stop")]
    raw = b"".join(framing.chat_chunk(identity, d) for d in deltas) + framing.DONE
    first = json.loads(raw.split(b"\n\n")[0][6:])
    assert first["object"] == "chat.completion.chunk" and first["choices"][0]["delta"] == {
        "role": "assistant"
    }
    assert [(d.content, d.finish_reason) for d in parse_chat_stream([raw])] == [
        ("", None),
        ("Hi", None),
        ("!", "stop"),
    ]


@pytest.mark.parametrize(
    ("error", "status", "error_type"),
    [
        (ValidationError("too long"), 422, "validation"),
        (OverloadedError("busy"), 503, "overloaded"),
        (EndpointNotReadyError("Creating"), 503, "endpoint_not_ready_error"),
        (StreamTimeoutError("silent"), 504, "stream_timeout_error"),
        (ModelStreamError("cut"), 502, "model_stream_error"),
    ],
)
def test_an_error_before_any_token_maps_to_an_http_status(error, status: int, error_type: str) -> None:
    assert framing.error_status(error) == status
    assert framing.error_type(error) == error_type
