"""The one byte-line splitter: chunks cut anywhere in, whole lines out.

Every stream we read line by line (terraform's `-json` output, a TGI event stream) arrives in
chunks split at arbitrary bytes, mid-line and mid UTF-8 character. Lines end in LF or CRLF; a
lone CR is not a terminator. Splitting bytes, not text, is safe for UTF-8: a line break byte
never occurs inside a multi-byte character.

    LineSplitter().feed(chunk) -> [line, ...]   push: for a reader that owns the loop
    iter_lines(chunks)         -> line, ...     pull: a generator over Iterable[bytes]
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from llm_twin.errors import StreamParseError

__all__ = ["MAX_LINE_BYTES", "LineSplitter", "iter_lines", "line_too_long"]

MAX_LINE_BYTES = 16 * 1024 * 1024
"""A line longer than this is not TGI's; raising beats buffering a broken stream without end."""


def line_too_long(limit: int) -> StreamParseError:
    return StreamParseError(f"no line break within {limit} bytes; not a TGI event stream")


class LineSplitter:
    """Bytes in, each completed line out without its LF or CRLF.

    `max_line_bytes` bounds an open line (StreamParseError past it); None leaves it unbounded,
    for a trusted local child process such as terraform.
    """

    def __init__(self, max_line_bytes: int | None = MAX_LINE_BYTES) -> None:
        self._pending = bytearray()
        self._limit = max_line_bytes

    def feed(self, chunk: bytes) -> list[bytes]:
        """Add bytes; the lines they complete (none while a line stays open)."""
        pending = self._pending
        pending += chunk
        if b"\n" not in chunk:
            if self._limit is not None and len(pending) > self._limit:
                raise line_too_long(self._limit)
            return []
        end = pending.rfind(b"\n")
        lines = bytes(pending[:end]).split(b"\n")
        del pending[: end + 1]
        return [line[:-1] if line[-1:] == b"\r" else line for line in lines]

    def flush(self) -> list[bytes]:
        """End of stream: the last line when it had no terminator."""
        if not self._pending:
            return []
        last = bytes(self._pending).removesuffix(b"\r")
        self._pending.clear()
        return [last]


def iter_lines(chunks: Iterable[bytes], *, max_line_bytes: int | None = MAX_LINE_BYTES) -> Iterator[bytes]:
    """Yield each line of the byte stream without its LF or CRLF; an unterminated last line too."""
    splitter = LineSplitter(max_line_bytes)
    for chunk in chunks:
        yield from splitter.feed(chunk)
    yield from splitter.flush()
