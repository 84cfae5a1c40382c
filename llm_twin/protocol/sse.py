"""The one server-sent-event splitter: byte chunks cut anywhere in, each event's data out.

It follows the WHATWG event-stream rules as TGI uses them: `data:` with or without one
space, a blank line dispatches, comments (`:...`, TGI's keep-alive) and the `event`, `id`
and `retry` fields are ignored, a leading byte-order mark is skipped, and an event left open
when the stream ends is still dispatched. Lines end in LF or CRLF (what TGI sends); a lone
CR is not a terminator. Invalid UTF-8 raises `StreamParseError`, after the events before it.

    sse_batches(chunks)    -> [data, ...]   the hot path: one list per part that completes events
    iter_sse_data(chunks)  -> str           one event's data at a time, decoded
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import chain

from llm_twin.errors import StreamParseError
from llm_twin.protocol.lines import MAX_LINE_BYTES, line_too_long

__all__ = ["iter_sse_data", "sse_batches"]

_UTF8_BOM = b"\xef\xbb\xbf"


def iter_sse_data(chunks: Iterable[bytes], *, max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[str]:
    """Yield the data of each server-sent event, multi-line data joined with LF."""
    for batch in sse_batches(chunks, max_line_bytes=max_line_bytes):
        for data in batch:
            yield data.decode()


def sse_batches(chunks: Iterable[bytes], *, max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[list[bytes]]:
    """The data of each event, in one list per part that completes any (valid UTF-8 bytes).

    This is the stream parsers' whole hot path, so it is one generator, resumed once per part,
    not once per line or event; that is why it splits lines itself rather than through
    `protocol.lines`. A part without a line break is only held; a part with one is split into
    lines once, as a whole.
    """
    held: list[bytes] = []  # the parts of the line still open
    held_size = 0
    at_start = True
    data: bytes | None = None  # the open event's first data line
    more: list[bytes] = []  # its further data lines, kept apart so a long event stays linear
    # A line break after the last part ends an unterminated last line, as the stream's end does.
    for chunk in chain(chunks, (b"\n",)):
        if b"\n" not in chunk:
            held.append(chunk)
            held_size += len(chunk)
            if held_size > max_line_bytes:
                raise line_too_long(max_line_bytes)
            continue
        if held:
            held.append(chunk)
            chunk = b"".join(held)
            held.clear()
        if at_start:
            # One leading byte-order mark is not part of the stream (WHATWG).
            chunk = chunk.removeprefix(_UTF8_BOM)
            at_start = False
        if b"\r" in chunk:
            # Also joins a CR held back from the previous part to its LF.
            chunk = chunk.replace(b"\r\n", b"\n")
        lines = chunk.split(b"\n")
        tail = lines.pop()
        if tail:
            held.append(tail)
        held_size = len(tail)
        invalid = None
        if not chunk.isascii():
            try:
                chunk.decode()
            except UnicodeDecodeError as exc:
                # A character split across parts is in the tail, and checked once complete.
                if exc.start < len(chunk) - len(tail):
                    invalid = exc
                    del lines[chunk.count(b"\n", 0, exc.start) :]
        batch: list[bytes] = []
        for line in lines:
            if not line:
                if data is not None:
                    batch.append(b"\n".join([data, *more]) if more else data)
                    more.clear()
                    data = None
            elif line.startswith(b"data:"):
                if data is None:
                    data = line[5:].removeprefix(b" ")
                else:
                    more.append(line[5:].removeprefix(b" "))
            elif line == b"data":
                if data is None:
                    data = b""
                else:
                    more.append(b"")
            # Anything else is a comment (":...") or a field TGI's clients need not read.
        if batch:
            yield batch
        if invalid is not None:
            raise StreamParseError(f"invalid UTF-8 in event stream: {invalid}") from invalid
    if data is not None:
        yield [b"\n".join([data, *more])]
