"""The TGI stream parser: recorded streams, awkward splits, error mapping, and properties."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

import pytest
from botocore.exceptions import EventStreamError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llm_twin.client import stream
from llm_twin.client.stream import (
    ChatDelta,
    StreamDetails,
    Token,
    TokenEvent,
    iter_lines,
    iter_sse_data,
    parse_chat_stream,
    parse_generate_stream,
    payload_parts,
)
from llm_twin.errors import (
    GenerationError,
    IncompleteGenerationError,
    InferenceError,
    ModelStreamError,
    OverloadedError,
    StreamParseError,
    ValidationError,
)
from tests.conftest import FIXTURES_DIR

STREAMS = FIXTURES_DIR / "streams"

pytestmark = pytest.mark.timeout(60)


def recorded(name: str) -> bytes:
    return (STREAMS / name).read_bytes()


def split_every(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def split_at(data: bytes, points: Iterable[int]) -> list[bytes]:
    cuts = [0, *sorted(set(points)), len(data)]
    return [data[start:end] for start, end in zip(cuts, cuts[1:], strict=False)]


def token_text(events: Iterable[TokenEvent]) -> str:
    return "".join(event.token.text for event in events if not event.token.special)


def event_json(index: int, token: Token, **extra: object) -> str:
    body = {
        "index": index,
        "token": {"id": token.id, "text": token.text, "logprob": token.logprob, "special": token.special},
        "generated_text": None,
        "details": None,
    }
    body.update(extra)
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


HELLO = Token(id=22557, text="Hello", logprob=-0.43359375, special=False)
GENERATE_STREAM_TEXT = "Hello, world!\n"
GENERATE_STREAM_DETAILS = StreamDetails(finish_reason="eos_token", generated_tokens=6, seed=None)
CHUNKINGS = [1, 2, 3, 7, 64, 10**6]


# --- recorded streams ------------------------------------------------------------------------


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


@pytest.mark.parametrize("size", CHUNKINGS)
def test_chat_stream_until_done(size: int) -> None:
    deltas = list(parse_chat_stream(split_every(recorded("chat_stream.sse"), size)))

    assert [delta.content for delta in deltas] == ["Hi", " there", "!", " 日本", ""]
    assert deltas[0] == ChatDelta(content="Hi", finish_reason=None, role="assistant")
    assert deltas[-1].finish_reason == "stop"


def test_chat_stream_stops_reading_at_done() -> None:
    parts = [b"data: [DONE]\n\n", b"not an event stream \xff\xfe"]

    assert list(parse_chat_stream(parts)) == []


def test_generate_stream_also_ends_at_done() -> None:
    data = f"data:{event_json(1, HELLO)}\n\ndata:[DONE]\n\ndata:garbage\n\n".encode()

    assert [event.token for event in parse_generate_stream([data])] == [HELLO]


# --- iter_lines ------------------------------------------------------------------------------


def test_iter_lines_splits_several_lines_in_one_part() -> None:
    assert list(iter_lines([b"a\nbb\n\nccc\n"])) == [b"a", b"bb", b"", b"ccc"]


def test_iter_lines_joins_one_line_across_many_parts() -> None:
    assert list(iter_lines([b"da", b"ta:", b"x", b"yz\n"])) == [b"data:xyz"]


def test_iter_lines_strips_crlf_even_when_split_between_cr_and_lf() -> None:
    assert list(iter_lines([b"a\r", b"\nb\r\n"])) == [b"a", b"b"]


def test_iter_lines_yields_a_final_line_without_newline() -> None:
    assert list(iter_lines([b"a\nlast"])) == [b"a", b"last"]


@pytest.mark.parametrize(
    ("parts", "lines"),
    [([], []), ([b""], []), ([b"\n"], [b""]), ([b"a\n"], [b"a"]), ([b"", b"a", b""], [b"a"])],
)
def test_iter_lines_edges(parts: list[bytes], lines: list[bytes]) -> None:
    assert list(iter_lines(parts)) == lines


def test_a_line_that_never_ends_raises_instead_of_growing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream, "MAX_LINE_BYTES", 1024)
    endless = (b"x" * 100 for _ in range(10**6))

    with pytest.raises(StreamParseError):
        list(iter_sse_data(endless))


def test_iter_lines_limits_line_length_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream, "MAX_LINE_BYTES", 1024)

    with pytest.raises(StreamParseError):
        list(iter_lines(b"x" * 100 for _ in range(11)))


# --- iter_sse_data ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "data"),
    [
        (b"data:x\n\n", ["x"]),
        (b"data: x\n\n", ["x"]),
        (b"data:  x\n\n", [" x"]),  # only one space is removed
        (b"data:data\n\n", ["data"]),  # lstrip("data:") would leave ""
        (b"data:tada\n\n", ["tada"]),  # lstrip("data:") would leave ""
        (b"data: {}\n\n", ["{}"]),
        (b"data:a\ndata: b\n\n", ["a\nb"]),
        (b"data\n\n", [""]),  # a field with no colon has an empty value
        (b"data:\n\n", [""]),
        (b"data:\ndata:\n\n", ["\n"]),
        (b"\n\n\n", []),
        (b":comment\n\n", []),
        (b": keep-alive\ndata:x\n\n", ["x"]),
        (b"event:token\nid:7\nretry:10\ndata:x\n\n", ["x"]),
        (b"unknown:field\ndata :x\nDATA:y\n\n", []),
        (b"data:a\n\ndata:b\n\n", ["a", "b"]),
        (b"data:a", ["a"]),  # the stream ended inside the event
        (b"data:a\n", ["a"]),
        (b"data:a\r\n\r\n", ["a"]),
        (b"\xef\xbb\xbfdata:a\n\n", ["a"]),  # one leading byte-order mark is ignored
        (b"data:a\n\n\xef\xbb\xbfdata:b\n\n", ["a"]),  # ...only at the start
    ],
)
def test_sse_fields(raw: bytes, data: list[str]) -> None:
    assert list(iter_sse_data([raw])) == data


def test_sse_several_events_in_one_part() -> None:
    assert list(iter_sse_data([b"data:1\n\ndata:2\n\ndata:3\n\n"])) == ["1", "2", "3"]


def test_sse_one_event_across_many_parts() -> None:
    assert list(iter_sse_data(split_every(b"data: hello world\n\n", 1))) == ["hello world"]


@pytest.mark.parametrize("cut", [1, 2, 3])
def test_sse_character_split_inside_its_utf8_bytes(cut: int) -> None:
    raw = "data:🙂\n\n".encode()
    start = raw.index("🙂".encode())

    assert list(iter_sse_data([raw[: start + cut], raw[start + cut :]])) == ["🙂"]


def test_invalid_utf8_raises_after_the_events_before_it() -> None:
    received: list[str] = []
    with pytest.raises(StreamParseError):
        received.extend(iter_sse_data([b"data:ok\n\ndata:\xff\xfe\n\ndata:later\n\n"]))

    assert received == ["ok"]


def test_invalid_utf8_in_an_unterminated_last_line_raises() -> None:
    with pytest.raises(StreamParseError):
        list(iter_sse_data([b"data:ok\n\ndata:\xc3"]))


def test_a_truncated_character_at_the_end_raises() -> None:
    with pytest.raises(StreamParseError):
        list(iter_sse_data(["data:é".encode()[:-1]]))


# --- parse errors ----------------------------------------------------------------------------


def error_stream(payload: dict[str, object]) -> list[bytes]:
    return [f"data:{event_json(1, HELLO)}\n\n".encode(), f"data:{json.dumps(payload)}\n\n".encode()]


def raised(parts: Iterable[bytes], parse=parse_generate_stream) -> InferenceError:
    with pytest.raises(InferenceError) as caught:
        list(parse(parts))
    return caught.value


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


def test_chat_error_payload_maps_and_carries_content_so_far() -> None:
    parts = [
        b'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":"Par"},"finish_reason":null}]}\n\n',
        b'data: {"error":"Request failed during generation","error_type":"generation"}\n\n',
    ]
    error = raised(parts, parse_chat_stream)

    assert (type(error), error.partial_text) == (GenerationError, "Par")


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


@pytest.mark.parametrize(
    "data",
    ["[]", '"x"', '{"choices":{"0":1}}', '{"choices":[{"delta":{"content":5}}]}', "nope"],
)
def test_chat_data_that_is_not_a_chunk_raises_stream_parse_error(data: str) -> None:
    assert type(raised([f"data:{data}\n\n".encode()], parse_chat_stream)) is StreamParseError


def test_chat_chunk_without_choices_yields_nothing() -> None:
    assert list(parse_chat_stream([b'data:{"choices":[],"usage":{"total_tokens":3}}\n\n'])) == []


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
        return repr(stream._token_event_from_json(data.encode()))
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


# --- payload_parts ---------------------------------------------------------------------------


def test_payload_parts_yields_the_bytes_in_order() -> None:
    body = [{"PayloadPart": {"Bytes": b"ab"}}, {"PayloadPart": {"Bytes": b"c"}}]

    assert list(payload_parts(body)) == [b"ab", b"c"]


def test_unknown_event_keys_are_ignored() -> None:
    body = [
        {"PayloadPart": {"Bytes": b"a"}},
        {"SomeFutureEvent": {"X": 1}},
        {},
        {"PayloadPart": {"Bytes": b"b"}},
    ]

    assert list(payload_parts(body)) == [b"a", b"b"]


def test_model_stream_error_event_raises() -> None:
    body = [{"ModelStreamError": {"Message": "took too long", "ErrorCode": "ModelInvocationTimeExceeded"}}]

    with pytest.raises(ModelStreamError, match="ModelInvocationTimeExceeded.*took too long"):
        list(payload_parts(body))


def test_internal_stream_failure_event_raises() -> None:
    with pytest.raises(ModelStreamError, match="InternalStreamFailure: oops"):
        list(payload_parts([{"InternalStreamFailure": {"Message": "oops"}}]))


@pytest.mark.parametrize("code", ["ModelStreamError", "InternalStreamFailure"])
def test_botocore_event_stream_error_raises_model_stream_error(code: str) -> None:
    def body() -> Iterator[dict[str, object]]:
        yield {"PayloadPart": {"Bytes": b"a"}}
        raise EventStreamError(
            {"Error": {"Code": code, "Message": "boom"}}, "InvokeEndpointWithResponseStream"
        )

    with pytest.raises(ModelStreamError, match=f"{code}: boom"):
        list(payload_parts(body()))


def test_other_errors_from_the_event_stream_pass_through() -> None:
    def body() -> Iterator[dict[str, object]]:
        raise EventStreamError({"Error": {"Code": "Throttling", "Message": "x"}}, "Op")
        yield {}

    with pytest.raises(EventStreamError):
        list(payload_parts(body()))


def test_model_stream_error_mid_generation_carries_the_text_so_far() -> None:
    body = [
        {"PayloadPart": {"Bytes": f"data:{event_json(1, HELLO)}\n\n".encode()}},
        {"ModelStreamError": {"Message": "broken", "ErrorCode": "StreamBroken"}},
    ]

    assert raised(payload_parts(body)).partial_text == "Hello"


# --- properties ------------------------------------------------------------------------------

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


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=300), data=st.data())
def test_iter_lines_is_the_same_for_any_chunking(raw: bytes, data: st.DataObject) -> None:
    points = data.draw(st.lists(st.integers(0, len(raw)), max_size=20))

    assert list(iter_lines(split_at(raw, points))) == list(iter_lines([raw]))


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=300), data=st.data())
def test_iter_sse_data_is_the_same_for_any_chunking(raw: bytes, data: st.DataObject) -> None:
    points = data.draw(st.lists(st.integers(0, len(raw)), max_size=20))

    def outcome(parts: list[bytes]) -> tuple[list[str], type[Exception] | None]:
        received: list[str] = []
        try:
            received.extend(iter_sse_data(parts))
        except StreamParseError as exc:
            return received, type(exc)
        return received, None

    assert outcome(split_at(raw, points)) == outcome([raw])


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
