"""The one server-sent-event splitter: WHATWG fields as TGI uses them, any cut, UTF-8, the bound."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_twin.errors import StreamParseError
from llm_twin.protocol.sse import iter_sse_data, sse_batches
from tests.support.streams import split_at, split_every

pytestmark = pytest.mark.timeout(60)


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


def test_a_line_that_never_ends_raises_instead_of_growing() -> None:
    endless = (b"x" * 100 for _ in range(10**6))

    with pytest.raises(StreamParseError):
        list(iter_sse_data(endless, max_line_bytes=1024))


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


def test_one_batch_per_part_that_completes_events() -> None:
    parts = [b"data:1\n\ndata:2\n\nda", b"ta:3", b"\n\n"]

    assert list(sse_batches(parts)) == [[b"1", b"2"], [b"3"]]
