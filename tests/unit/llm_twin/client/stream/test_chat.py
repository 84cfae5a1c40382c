"""The Messages API's stream parser: recorded chunks, [DONE], errors, and any cut."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_twin.client.stream.chat import ChatDelta, parse_chat_stream
from llm_twin.errors import GenerationError, StreamParseError
from tests.support.streams import CHUNKINGS, raised, recorded, split_at, split_every

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("size", CHUNKINGS)
def test_chat_stream_until_done(size: int) -> None:
    deltas = list(parse_chat_stream(split_every(recorded("chat_stream.sse"), size)))

    assert [delta.content for delta in deltas] == ["Hi", " there", "!", " 日本", ""]
    assert deltas[0] == ChatDelta(content="Hi", finish_reason=None, role="assistant")
    assert deltas[-1].finish_reason == "stop"


def test_chat_stream_stops_reading_at_done() -> None:
    parts = [b"data: [DONE]\n\n", b"not an event stream \xff\xfe"]

    assert list(parse_chat_stream(parts)) == []


def test_chat_error_payload_maps_and_carries_content_so_far() -> None:
    parts = [
        b'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":"Par"},"finish_reason":null}]}\n\n',
        b'data: {"error":"Request failed during generation","error_type":"generation"}\n\n',
    ]
    error = raised(parts, parse_chat_stream)

    assert (type(error), error.partial_text) == (GenerationError, "Par")


@pytest.mark.parametrize(
    "data",
    ["[]", '"x"', '{"choices":{"0":1}}', '{"choices":[{"delta":{"content":5}}]}', "nope"],
)
def test_chat_data_that_is_not_a_chunk_raises_stream_parse_error(data: str) -> None:
    assert type(raised([f"data:{data}\n\n".encode()], parse_chat_stream)) is StreamParseError


def test_chat_chunk_without_choices_yields_nothing() -> None:
    assert list(parse_chat_stream([b'data:{"choices":[],"usage":{"total_tokens":3}}\n\n'])) == []


@settings(max_examples=200, deadline=None)
@given(
    contents=st.lists(st.text(max_size=10), min_size=1, max_size=10),
    data=st.data(),
)
def test_any_chunking_of_a_chat_stream_gives_the_same_deltas(
    contents: list[str], data: st.DataObject
) -> None:
    chunks = [
        {
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": {"content": c}, "finish_reason": None}],
        }
        for c in contents
    ]
    raw = "".join(f"data: {json.dumps(chunk)}\n\n" for chunk in chunks).encode() + b"data: [DONE]\n\n"
    points = data.draw(st.lists(st.integers(0, len(raw)), max_size=40))

    assert [d.content for d in parse_chat_stream(split_at(raw, points))] == contents
