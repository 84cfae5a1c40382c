"""TGI's generate_stream parser: recorded streams, awkward splits, error mapping, and properties."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llm_twin.client.stream.chat import parse_chat_stream
from llm_twin.client.stream.tgi import (
    StreamDetails,
    Token,
    TokenEvent,
    parse_generate_stream,
    token_event_from_json,
)
from llm_twin.errors import (
    GenerationError,
    IncompleteGenerationError,
    InferenceError,
    OverloadedError,
    StreamParseError,
    ValidationError,
)
from llm_twin.protocol.lines import iter_lines
from llm_twin.protocol.sse import iter_sse_data
from tests.support.streams import (
    CHUNKINGS,
    HELLO,
    event_json,
    raised,
    recorded,
    split_at,
    split_every,
    token_text,
)

pytestmark = pytest.mark.timeout(60)


GENERATE_STREAM_TEXT = "Hello, world!\n"


GENERATE_STREAM_DETAILS = StreamDetails(finish_reason="eos_token", generated_tokens=6, seed=None)


@pytest.mark.parametrize("size", CHUNKINGS)
def test_generate_stream_yields_every_token_whatever_the_part_size(size: int) -> None:
    events = list(parse_generate_stream(split_every(recorded("generate_stream.sse"), size)))

    assert [event.index for event in events] == [1, 2, 3, 4, 5, 6]
    assert events[0] == TokenEvent(index=1, token=HELLO, generated_text=None, details=None)
    assert token_text(events) == GENERATE_STREAM_TEXT
    assert events[-1].token == Token(id=2, text="</s>", logprob=-0.0014648438, special=True)
    assert events[-1].generated_text == GENERATE_STREAM_TEXT
    assert events[-1].details == GENERATE_STREAM_DETAILS


@pytest.mark.parametrize("size", CHUNKINGS)
def test_multibyte_tokens_survive_any_split(size: int) -> None:
    events = list(parse_generate_stream(split_every(recorded("generate_unicode.sse"), size)))

    assert token_text(events) == 'héllo 日本 🙂 "ok" ∑'
    assert events[-1].generated_text == token_text(events)
    assert events[-1].token.logprob is None
    assert events[-1].details == StreamDetails(finish_reason="length", generated_tokens=6, seed=42)


@pytest.mark.parametrize("size", CHUNKINGS)
def test_keep_alive_comments_and_other_fields_are_ignored(size: int) -> None:
    events = list(parse_generate_stream(split_every(recorded("generate_keepalive.sse"), size)))

    assert [event.index for event in events] == [1, 2, 3, 4]
    assert token_text(events) == "The answer is 42"
    assert events[-1].details == StreamDetails("stop_sequence", 4, None)


@pytest.mark.parametrize("size", CHUNKINGS)
def test_crlf_line_endings(size: int) -> None:
    events = list(parse_generate_stream(split_every(recorded("generate_crlf.sse"), size)))

    assert token_text(events) == "Yes."
    assert events[-1].details == StreamDetails("length", 2, None)


@pytest.mark.parametrize("size", CHUNKINGS)
def test_last_event_without_trailing_newline_is_still_delivered(size: int) -> None:
    events = list(parse_generate_stream(split_every(recorded("generate_no_trailing_newline.sse"), size)))

    assert token_text(events) == "Bye."
    assert events[-1].details == StreamDetails("length", 2, None)


@pytest.mark.parametrize("size", CHUNKINGS)
def test_error_event_mid_stream_raises_after_the_tokens_before_it(size: int) -> None:
    received: list[TokenEvent] = []
    with pytest.raises(IncompleteGenerationError) as caught:
        received.extend(parse_generate_stream(split_every(recorded("generate_error_midstream.sse"), size)))

    assert token_text(received) == "Partial"
    assert caught.value.partial_text == "Partial"
    assert str(caught.value) == "Incomplete generation"


def test_generate_stream_also_ends_at_done() -> None:
    data = f"data:{event_json(1, HELLO)}\n\ndata:[DONE]\n\ndata:garbage\n\n".encode()

    assert [event.token for event in parse_generate_stream([data])] == [HELLO]


def error_stream(payload: dict[str, object]) -> list[bytes]:
    return [f"data:{event_json(1, HELLO)}\n\n".encode(), f"data:{json.dumps(payload)}\n\n".encode()]


@pytest.mark.parametrize(
    ("error_type", "expected"),
    [
        ("validation", ValidationError),
        ("overloaded", OverloadedError),
        ("incomplete_generation", IncompleteGenerationError),
        ("generation", GenerationError),
        ("some_future_type", GenerationError),
        (None, GenerationError),
    ],
)
def test_error_type_maps_to_its_exception(error_type: str | None, expected: type[GenerationError]) -> None:
    payload = {"error": "it broke"} if error_type is None else {"error": "it broke", "error_type": error_type}

    assert type(raised(error_stream(payload))) is expected


def test_error_payload_keeps_its_message() -> None:
    assert str(raised(error_stream({"error": "Input validation error", "error_type": "validation"}))) == (
        "Input validation error"
    )


def test_error_payload_carries_the_text_so_far() -> None:
    assert raised(error_stream({"error": "x", "error_type": "overloaded"})).partial_text == "Hello"


def test_openai_style_error_object_maps_by_its_type() -> None:
    payload = {"error": {"message": "queue full", "type": "overloaded"}}

    assert type(raised(error_stream(payload))) is OverloadedError


@pytest.mark.parametrize(
    "data",
    [
        "not json",
        "{",
        '{"index":1} trailing',
        "",
        "[" * 100_000,  # deeper than the recursion limit
    ],
)
def test_non_json_data_raises_stream_parse_error(data: str) -> None:
    parts = [f"data:{event_json(1, HELLO)}\n\n".encode(), f"data:{data}\n\n".encode()]

    assert type(raised(parts)) is StreamParseError


def test_non_json_data_carries_the_text_so_far() -> None:
    parts = [f"data:{event_json(1, HELLO)}\n\n".encode(), b"data:not json\n\n"]

    assert raised(parts).partial_text == "Hello"


@pytest.mark.parametrize(
    "data",
    [
        "[1, 2]",
        '"a string"',
        "{}",
        '{"index":1,"token":{"id":"1","text":"x","logprob":null,"special":false}}',
        '{"index":1,"token":{"id":1,"text":7,"logprob":null,"special":false}}',
        '{"index":1,"token":{"id":1,"text":"x","logprob":"low","special":false}}',
        '{"index":1,"token":{"id":1,"text":"x","logprob":null,"special":0}}',
        '{"index":true,"token":{"id":1,"text":"x","logprob":null,"special":false}}',
        '{"index":1,"token":[]}',
        '{"index":1,"token":{"id":1,"text":"x","logprob":null,"special":false},"details":{"seed":1}}',
    ],
)
def test_json_that_is_not_a_token_event_raises_stream_parse_error(data: str) -> None:
    assert type(raised([f"data:{data}\n\n".encode()])) is StreamParseError


def test_a_token_event_may_leave_out_optional_fields() -> None:
    data = b'data:{"index":1,"token":{"id":1,"text":"x","special":false}}\n\n'

    assert list(parse_generate_stream([data])) == [TokenEvent(1, Token(1, "x", None, False), None, None)]


def test_invalid_utf8_carries_the_text_so_far() -> None:
    parts = [f"data:{event_json(1, HELLO)}\n\n".encode(), b"data:\xff\n\n"]

    error = raised(parts)
    assert (type(error), error.partial_text) == (StreamParseError, "Hello")


def test_special_tokens_are_left_out_of_partial_text() -> None:
    eos = Token(id=2, text="</s>", logprob=None, special=True)
    parts = [f"data:{event_json(1, HELLO)}\n\ndata:{event_json(2, eos)}\n\ndata:oops\n\n".encode()]

    assert raised(parts).partial_text == "Hello"


def test_compact_and_spaced_json_give_the_same_events() -> None:
    # TGI's compact serialisation takes a faster path than any other JSON; both must agree.
    tokens = [HELLO, Token(7, 'tab\t"quote"\\ é 🙂 \u2028', -0.0, False), Token(2, "</s>", None, True)]
    compact = "".join(f"data:{event_json(i, t)}\n\n" for i, t in enumerate(tokens, 1)).encode()
    spaced = "".join(
        f"data:{json.dumps(json.loads(event_json(i, t)), ensure_ascii=True)}\n\n"
        for i, t in enumerate(tokens, 1)
    ).encode()

    assert list(parse_generate_stream([compact])) == list(parse_generate_stream([spaced]))


def test_an_integer_logprob_is_a_float_on_both_paths() -> None:
    compact = b'data:{"index":1,"token":{"id":1,"text":"x","logprob":0,"special":false},"generated_text":null,"details":null}\n\n'
    spaced = b'data: {"index": 1, "token": {"id": 1, "text": "x", "logprob": 0, "special": false}}\n\n'

    logprobs = [next(parse_generate_stream([raw])).token.logprob for raw in (compact, spaced)]
    assert [type(logprob) for logprob in logprobs] == [float, float]


def general_path_outcome(data: str) -> str:
    """What the json-based path alone makes of `data`: the event's repr, or the error's type."""
    try:
        return repr(token_event_from_json(data.encode()))
    except InferenceError as exc:
        return type(exc).__name__


def parser_outcome(data: str) -> str:
    try:
        events = list(parse_generate_stream([f"data:{data}\n\n".encode()]))
    except InferenceError as exc:
        return type(exc).__name__
    return repr(events[0])


EVENT_HEAD = '{"index":1,"token":{"id":5,"text":"x","logprob":-0.5,"special":false}'


@pytest.mark.parametrize(
    "data",
    [
        EVENT_HEAD + ',"generated_text":null,"details":null}',
        EVENT_HEAD
        + ',"generated_text":"x","details":{"finish_reason":"length","generated_tokens":1,"seed":null}}',
        # Accepted by json and the checks, refused by msgspec's stricter types.
        EVENT_HEAD
        + ',"generated_text":"x","details":{"finish_reason":"new","generated_tokens":1,"seed":null}}',
        '{"index":1,"token":{"id":5,"text":"x","logprob":NaN,"special":false},"generated_text":null,"details":null}',
        '{"index":1,"token":{"id":5,"text":"x","logprob":1e400,"special":false},"generated_text":null,"details":null}',
        '{"index":1,"token":{"id":5,"text":"x","logprob":"-0.5","special":false},"generated_text":null,"details":null}',
        '{"index":1,"token":{"id":5,"text":"\\ud800","logprob":null,"special":false},"generated_text":null,"details":null}',
        '{"index":1,"token":{"id":5,"text":"x","logprob":null,"special":1},"generated_text":null,"details":null}',
        '{"index":1.0,"token":{"id":5,"text":"x","logprob":null,"special":false},"generated_text":null,"details":null}',
        EVENT_HEAD
        + ',"generated_text":"x","details":{"finish_reason":"length","generated_tokens":1,"seed":18446744073709551616}}',
        '{"index":1,"token":{"id":123456789012345678901234567890,"text":"x","logprob":null,"special":false},"generated_text":null,"details":null}',
        # Accepted by both: unknown keys, duplicate keys (the last wins), whitespace.
        EVENT_HEAD + ',"top_tokens":[],"generated_text":null,"details":null}',
        EVENT_HEAD + ',"index":2,"generated_text":null,"details":null}',
        ' {"index": 1, "token": {"id": 5, "text": "x", "logprob": -0.5, "special": false}, "generated_text": null, "details": null} ',
        # msgspec skips unknown keys, so an error next to a token must not pass as a token event.
        EVENT_HEAD + ',"generated_text":null,"details":null,"error":"boom","error_type":"overloaded"}',
        EVENT_HEAD + ',"generated_text":null,"details":null,"\\u0065rror":"boom"}',
        # Refused by both.
        EVENT_HEAD + ',"generated_text":7,"details":null}',
        EVENT_HEAD + ',"generated_text":null,"details":null} x',
    ],
)
def test_the_fast_decoder_agrees_with_the_general_path(data: str) -> None:
    assert parser_outcome(data) == general_path_outcome(data)


def test_the_fast_decoder_keeps_token_events_typed() -> None:
    data = EVENT_HEAD + ',"generated_text":null,"details":null}'

    event = next(parse_generate_stream([f"data:{data}\n\n".encode()]))
    assert event == TokenEvent(1, Token(5, "x", -0.5, False), None, None)
    assert (type(event), type(event.token)) == (TokenEvent, Token)


json_floats = st.floats(allow_nan=False, allow_infinity=False)


tokens = st.builds(
    Token,
    id=st.integers(0, 2**32 - 1),
    text=st.text(max_size=12),
    logprob=st.none() | json_floats.map(lambda x: -abs(x)),
    special=st.booleans(),
)


@st.composite
def generate_streams(draw: st.DrawFn) -> tuple[bytes, list[TokenEvent]]:
    """A valid TGI stream in one of its spellings, and the events it must parse to."""
    drawn = draw(st.lists(tokens, min_size=1, max_size=12))
    prefix = draw(st.sampled_from(["data:", "data: "]))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    ensure_ascii = draw(st.booleans())
    details = draw(
        st.none()
        | st.builds(
            StreamDetails,
            st.sampled_from(["length", "eos_token", "stop_sequence"]),
            st.integers(0, 99),
            st.none() | st.integers(0, 2**64 - 1),
        )
    )
    expected = []
    lines = []
    for index, token in enumerate(drawn, 1):
        last = index == len(drawn)
        generated_text = token_text(expected) if last and details else None
        event = TokenEvent(index, token, generated_text, details if last else None)
        expected.append(event)
        body = json.loads(event_json(index, token))
        if event.details is not None:
            body["generated_text"] = event.generated_text
            body["details"] = {
                "finish_reason": details.finish_reason,
                "generated_tokens": details.generated_tokens,
                "seed": details.seed,
            }
        if draw(st.booleans()):
            lines.append(":")  # keep-alive
        lines.append(prefix + json.dumps(body, ensure_ascii=ensure_ascii, separators=(",", ":")))
        lines.append("")
    raw = newline.join(lines) + newline
    if draw(st.booleans()):
        raw = raw.removesuffix(newline + newline)  # the stream may end right after the JSON
    return raw.encode(), expected


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(generated=generate_streams(), data=st.data())
def test_any_chunking_of_a_valid_stream_gives_the_same_events(
    generated: tuple[bytes, list[TokenEvent]], data: st.DataObject
) -> None:
    raw, expected = generated
    points = data.draw(st.lists(st.integers(0, len(raw)), max_size=40))

    assert list(parse_generate_stream(split_at(raw, points))) == expected


SSE_ALPHABET = st.sampled_from(
    [b"data:", b"data: ", b"data", b":", b"\n", b"\r\n", b"\r", b"{", b"}", b'"', b"[DONE]", b"\xff", b"\xc3"]
    + [json.dumps(event_json(1, HELLO)).encode(), event_json(1, HELLO).encode(), b'{"error":"x"}']
)


@pytest.mark.timeout(60)
@settings(max_examples=300, deadline=None)
@given(parts=st.lists(st.binary(max_size=20) | SSE_ALPHABET, max_size=30))
def test_no_input_hangs_or_escapes_the_error_hierarchy(parts: list[bytes]) -> None:
    for parse in (parse_generate_stream, parse_chat_stream, iter_sse_data, iter_lines):
        try:
            for _ in parse(parts):
                pass
        except InferenceError:
            pass
