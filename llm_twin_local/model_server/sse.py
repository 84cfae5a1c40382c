"""Server-sent events as TGI writes them: `data:{json}\n\n`, compact JSON, raw UTF-8.

`iter_data` is the reverse, a generator over byte chunks (split anywhere, even inside
a UTF-8 character) that yields each event's data; the tests and benchmarks use it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

DONE = b"data:[DONE]\n\n"
"""The Messages API's last event (axum writes no space after the colon)."""


def f32(value: float | None) -> float | None:
    """A float as serde prints an f32: the shortest decimal that round-trips; NaN/inf become null."""
    if value is None or not math.isfinite(value):
        return None
    return float(str(np.float32(value)))


def dumps(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def event(payload: Any) -> bytes:
    return f"data:{dumps(payload)}\n\n".encode()


def iter_data(chunks: Iterable[bytes]) -> Iterator[str]:
    """Yield the `data` of each event in a byte stream; comments and other fields are skipped."""
    buffer = b""
    for chunk in chunks:
        buffer += chunk
        while True:
            cut = buffer.find(b"\n\n")
            if cut < 0:
                break
            block, buffer = buffer[:cut], buffer[cut + 2 :]
            data = [
                line.removeprefix(b"data:").removeprefix(b" ")
                for line in block.split(b"\n")
                if line.startswith(b"data:")
            ]
            if data:
                yield b"\n".join(data).decode("utf-8")
    if buffer.strip():
        tail = [line.removeprefix(b"data:").removeprefix(b" ") for line in buffer.split(b"\n")]
        yield b"\n".join(line for line in tail if line).decode("utf-8")
