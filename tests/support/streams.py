"""Byte streams for the parser tests: cutting recorded bytes, and TGI events spelled as TGI does."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable, Iterator

import pytest

from llm_twin.client.stream.tgi import Token, TokenEvent, parse_generate_stream
from llm_twin.errors import InferenceError
from tests.conftest import FIXTURES_DIR

STREAMS = FIXTURES_DIR / "streams"

HELLO = Token(id=22557, text="Hello", logprob=-0.43359375, special=False)
"""The first token of the recorded `generate_stream.sse`."""
CHUNKINGS = [1, 2, 3, 7, 64, 10**6]
"""Part sizes every recorded stream is read in: bytewise up to all at once."""


def recorded(name: str) -> bytes:
    return (STREAMS / name).read_bytes()


def split_every(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def split_at(data: bytes, points: Iterable[int]) -> list[bytes]:
    cuts = [0, *sorted(set(points)), len(data)]
    return [data[start:end] for start, end in zip(cuts, cuts[1:], strict=False)]


def random_split(data: bytes, seed: int) -> list[bytes]:
    """`data` in parts of 1 to 40 bytes, the same for the same seed."""
    rng = random.Random(seed)
    parts = []
    start = 0
    while start < len(data):
        size = rng.randint(1, 40)
        parts.append(data[start : start + size])
        start += size
    return parts


def token_text(events: Iterable[TokenEvent]) -> str:
    return "".join(event.token.text for event in events if not event.token.special)


def event_json(index: int, token: Token, **extra: object) -> str:
    """One `generate_stream` event as TGI's serde writes it (compact, raw UTF-8)."""
    body = {
        "index": index,
        "token": {"id": token.id, "text": token.text, "logprob": token.logprob, "special": token.special},
        "generated_text": None,
        "details": None,
    }
    body.update(extra)
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def raised(
    parts: Iterable[bytes], parse: Callable[[Iterable[bytes]], Iterable[object]] = parse_generate_stream
) -> InferenceError:
    """The error `parse` raises on `parts` (failing the test when it raises none)."""
    with pytest.raises(InferenceError) as caught:
        list(parse(parts))
    return caught.value


class RawStream:
    """The urllib3 response botocore reads a body from, reduced to what it calls."""

    def __init__(self, parts: list[bytes]) -> None:
        self._parts = parts
        self.closed = False

    def stream(self, *args: object, **kwargs: object) -> Iterator[bytes]:
        yield from self._parts

    def read(self, *args: object, **kwargs: object) -> bytes:
        return b"".join(self._parts)

    def close(self) -> None:
        self.closed = True
