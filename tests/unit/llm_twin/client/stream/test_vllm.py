"""vLLM's completion stream parser (and its chat chunks through the Messages API's parser):
streams in vLLM's spelling, awkward splits, errors mid-stream, and any chunking."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_twin.client.stream.chat import ChatDelta, parse_chat_stream
from llm_twin.client.stream.tgi import StreamDetails, Token, TokenEvent
from llm_twin.client.stream.vllm import parse_completion_stream, tgi_finish_reason
from llm_twin.errors import (
    GenerationError,
    IncompleteGenerationError,
    InferenceError,
    OverloadedError,
    StreamParseError,
    ValidationError,
)
from tests.support.streams import CHUNKINGS, raised, recorded, split_at, split_every

pytestmark = pytest.mark.timeout(60)


def texts(events: list[TokenEvent]) -> str:
    return "".join(event.token.text for event in events)


def chunk(text: str, finish_reason: str | None = None, stop_reason: str | int | None = None) -> str:
    """One `text_completion` chunk as vLLM's pydantic writes it (compact, raw UTF-8)."""
    choice = {
        "index": 0,
        "text": text,
        "logprobs": None,
        "finish_reason": finish_reason,
        "stop_reason": stop_reason,
    }
    body = {
        "id": "cmpl-1",
        "object": "text_completion",
        "created": 1,
        "model": "m",
        "choices": [choice],
        "usage": None,
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def usage(completion_tokens: int) -> str:
    return json.dumps(
        {
            "id": "cmpl-1",
            "object": "text_completion",
            "created": 1,
            "model": "m",
            "choices": [],
            "usage": {
                "prompt_tokens": 3,
                "total_tokens": 3 + completion_tokens,
                "completion_tokens": completion_tokens,
            },
        },
        separators=(",", ":"),
    )


def sse(*events: str) -> bytes:
    return "".join(f"data: {event}\n\n" for event in events).encode()


def parse(parts: list[bytes]) -> list[TokenEvent]:
    return list(parse_completion_stream(parts))


def raised_by(parts: list[bytes]) -> InferenceError:
    return raised(parts, parse_completion_stream)


# --- recorded streams, cut at every size -------------------------------------------------------------


@pytest.mark.parametrize("size", CHUNKINGS)
def test_completion_stream_gives_tgi_token_events(size: int) -> None:
    events = parse(split_every(recorded("completion_stream.sse"), size))

    assert [event.index for event in events] == [1, 2, 3, 4, 5, 6]
    assert events[0] == TokenEvent(1, Token(None, " Paris", None, False), None, None)
    assert texts(events) == " Paris is the capital.\n"
    assert events[-1].generated_text == " Paris is the capital.\n"
    assert events[-1].details == StreamDetails("eos_token", 6, None)
    assert all(event.generated_text is None for event in events[:-1])


@pytest.mark.parametrize("size", CHUNKINGS)
def test_multibyte_text_survives_any_split(size: int) -> None:
    events = parse(split_every(recorded("completion_unicode.sse"), size))

    assert texts(events) == ' héllo 日本 🙂 "ok" ∑'
    assert events[-1].details == StreamDetails("length", 5, None)


@pytest.mark.parametrize("size", CHUNKINGS)
def test_a_stop_string_is_tgis_stop_sequence(size: int) -> None:
    events = parse(split_every(recorded("completion_stop_sequence.sse"), size))

    assert texts(events) == " The answer is 42"
    assert events[-1].details == StreamDetails("stop_sequence", 5, None)


@pytest.mark.parametrize("size", CHUNKINGS)
def test_without_the_usage_chunk_the_text_ends_without_details(size: int) -> None:
    events = parse(split_every(recorded("completion_no_usage.sse"), size))

    assert events[-1].generated_text == " Bye."
    assert events[-1].details is None


@pytest.mark.parametrize("size", CHUNKINGS)
def test_an_error_mid_stream_raises_keeping_the_text_before_it(size: int) -> None:
    received: list[TokenEvent] = []
    with pytest.raises(GenerationError) as caught:
        received.extend(
            parse_completion_stream(split_every(recorded("completion_error_midstream.sse"), size))
        )

    assert type(caught.value) is GenerationError  # code 500
    assert str(caught.value) == "The engine core died unexpectedly."
    assert caught.value.partial_text == texts(received) == " Partial"


# --- vLLM's chat chunks through the Messages API's parser ---------------------------------------------


@pytest.mark.parametrize("size", CHUNKINGS)
def test_vllm_chat_chunks_parse_as_tgis(size: int) -> None:
    deltas = list(parse_chat_stream(split_every(recorded("vllm_chat_stream.sse"), size)))

    assert deltas[0] == ChatDelta("", None, "assistant")
    assert "".join(d.content for d in deltas) == "Hi there 日本"
    assert deltas[-1].finish_reason == "stop"


@pytest.mark.parametrize("size", CHUNKINGS)
def test_vllm_chat_error_mid_stream_maps_by_its_status(size: int) -> None:
    error = raised(split_every(recorded("vllm_chat_error_midstream.sse"), size), parse_chat_stream)

    assert (type(error), str(error), error.partial_text) == (
        ValidationError,
        "This model's maximum context length is 2048 tokens.",
        "Par",
    )


# --- the error payload: one row per mapping ------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (400, ValidationError),
        (422, ValidationError),
        (429, OverloadedError),
        (503, OverloadedError),
        (500, GenerationError),
        (501, GenerationError),
        (None, GenerationError),
    ],
)
def test_the_error_status_maps_to_tgis_class(code: int | None, expected: type[GenerationError]) -> None:
    error = {"message": "no", "type": "SomeError", "param": None, "code": code}
    parts = [sse(chunk(" a")), sse(json.dumps({"error": error}), "[DONE]")]

    assert type(raised_by(parts)) is expected


def test_the_error_keeps_vllms_message_and_the_text_so_far() -> None:
    error = {
        "message": "top_p must be in (0, 1], got 2.0.",
        "type": "BadRequestError",
        "param": None,
        "code": 400,
    }
    parts = [sse(chunk(" a"), chunk("b")), sse(json.dumps({"error": error}))]

    caught = raised_by(parts)
    assert (str(caught), caught.partial_text) == ("top_p must be in (0, 1], got 2.0.", " ab")


@pytest.mark.parametrize(
    ("finish_reason", "expected"), [("abort", IncompleteGenerationError), ("error", GenerationError)]
)
def test_a_finish_reason_that_is_no_end_raises(finish_reason: str, expected: type[InferenceError]) -> None:
    caught = raised_by([sse(chunk("x"), chunk("y", finish_reason), "[DONE]")])

    assert (type(caught), caught.partial_text) == (expected, "xy")


@pytest.mark.parametrize(
    ("finish_reason", "stop_reason", "tgi"),
    [
        ("stop", None, "eos_token"),
        ("stop", "###", "stop_sequence"),
        ("stop", 128009, "stop_sequence"),
        ("length", None, "length"),
    ],
)
def test_finish_reasons_in_tgis_words(finish_reason: str, stop_reason: str | int | None, tgi: str) -> None:
    assert tgi_finish_reason(finish_reason, stop_reason) == tgi


# --- the end of the stream ---------------------------------------------------------------------------


def test_a_cut_stream_yields_no_generated_text() -> None:
    events = parse([sse(chunk("a"), chunk("b"))])

    assert [e.generated_text for e in events] == [None, None]


def test_nothing_after_done_is_read() -> None:
    parts = [sse(chunk("a", "length"), "[DONE]"), b"not an event stream \xff\xfe"]

    assert [e.generated_text for e in parse(parts)] == ["a"]


def test_the_finishing_chunk_waits_for_the_usage_chunk() -> None:
    stream = parse_completion_stream(iter([sse(chunk("a", "length")), sse(usage(1), "[DONE]")]))

    assert next(stream).details == StreamDetails("length", 1, None)


@pytest.mark.parametrize(
    "data",
    [
        "not json",
        "[]",
        '"x"',
        "{}",
        '{"choices":{"0":1}}',
        '{"choices":[{"text":5}]}',
        '{"choices":[{"delta":{"content":"chat, not completion"}}]}',
        '{"choices":[],"usage":{"completion_tokens":"1"}}',
    ],
)
def test_data_that_is_not_a_completion_chunk_raises_stream_parse_error(data: str) -> None:
    assert type(raised_by([f"data: {data}\n\n".encode()])) is StreamParseError


def test_a_text_chunk_after_the_finishing_one_is_refused() -> None:
    assert type(raised_by([sse(chunk("a", "stop"), chunk("b"))])) is StreamParseError


def test_an_escaped_key_or_an_error_next_to_choices_takes_the_general_path() -> None:
    escaped = '{"choices":[{"t\\u0065xt":"é","finish_reason":null}]}'
    with_error = '{"choices":[{"text":"x"}],"error":{"message":"boom","code":503}}'

    assert parse([f"data: {escaped}\n\n".encode()])[0].token.text == "é"
    assert type(raised_by([f"data: {with_error}\n\n".encode()])) is OverloadedError


# --- any chunking -------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    pieces=st.lists(st.text(max_size=10), min_size=1, max_size=12),
    finish=st.sampled_from([("length", None), ("stop", None), ("stop", "\n")]),
    crlf=st.booleans(),
    data=st.data(),
)
def test_any_chunking_of_a_completion_stream_gives_the_same_events(
    pieces: list[str], finish: tuple[str, str | None], crlf: bool, data: st.DataObject
) -> None:
    events = [chunk(p, *(finish if i == len(pieces) - 1 else (None, None))) for i, p in enumerate(pieces)]
    raw = sse(*events, usage(len(pieces)), "[DONE]")
    if crlf:
        raw = raw.replace(b"\n", b"\r\n")
    points = data.draw(st.lists(st.integers(0, len(raw)), max_size=40))

    parsed = parse(split_at(raw, points))

    assert [e.token.text for e in parsed] == pieces
    assert parsed[-1].generated_text == "".join(pieces)
    assert parsed[-1].details == StreamDetails(tgi_finish_reason(*finish), len(pieces), None)


@settings(max_examples=300, deadline=None)
@given(
    parts=st.lists(
        st.binary(max_size=20)
        | st.sampled_from(
            [
                b"data: ",
                b"\n",
                b"\r\n",
                b"[DONE]",
                b"\xff",
                b"\xe6\x97",
                chunk("x").encode(),
                b'{"error":{"code":400}}',
                b'{"choices":[]}',
            ]
        ),
        max_size=30,
    )
)
def test_no_input_hangs_or_escapes_the_error_hierarchy(parts: list[bytes]) -> None:
    try:
        for _ in parse_completion_stream(parts):
            pass
    except InferenceError:
        pass
