"""The one byte-line splitter: lines across any cut, CRLF, the unterminated last line, the bound."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_twin.errors import StreamParseError
from llm_twin.protocol.lines import LineSplitter, iter_lines
from tests.support.streams import split_at

pytestmark = pytest.mark.timeout(60)


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


def test_iter_lines_limits_line_length_too() -> None:
    with pytest.raises(StreamParseError):
        list(iter_lines((b"x" * 100 for _ in range(11)), max_line_bytes=1024))


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=300), data=st.data())
def test_iter_lines_is_the_same_for_any_chunking(raw: bytes, data: st.DataObject) -> None:
    points = data.draw(st.lists(st.integers(0, len(raw)), max_size=20))

    assert list(iter_lines(split_at(raw, points))) == list(iter_lines([raw]))


def test_the_splitter_holds_an_open_line_until_its_break() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"par") == []
    assert splitter.feed(b"tial\r") == []
    assert splitter.feed(b"\nnext") == [b"partial"]
    assert splitter.flush() == [b"next"]
    assert splitter.flush() == []


def test_a_lone_cr_at_the_end_is_an_empty_last_line() -> None:
    assert list(iter_lines([b"a\n\r"])) == [b"a", b""]


def test_an_unbounded_splitter_keeps_a_long_line() -> None:
    splitter = LineSplitter(max_line_bytes=None)
    for _ in range(11):
        assert splitter.feed(b"x" * 100) == []
    assert splitter.feed(b"\n") == [b"x" * 1100]


def test_the_bound_is_on_the_open_line_not_the_stream() -> None:
    many = [b"x" * 100 + b"\n"] * 20

    assert len(list(iter_lines(many, max_line_bytes=1024))) == 20
