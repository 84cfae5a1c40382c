"""Server-sent events as TGI writes them: `data:{json}\n\n`, compact JSON, raw UTF-8.

The reverse, reading events back, is `llm_twin.protocol.sse`, the one splitter the client,
the tests and the benchmarks share.
"""

from __future__ import annotations

import json
import math

import numpy as np

DONE = b"data:[DONE]\n\n"
"""The Messages API's last event (axum writes no space after the colon)."""


def f32(value: float | None) -> float | None:
    """A float as serde prints an f32: the shortest decimal that round-trips; NaN/inf become null."""
    if value is None or not math.isfinite(value):
        return None
    return float(str(np.float32(value)))


def dumps(payload: object) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def event(payload: object) -> bytes:
    return f"data:{dumps(payload)}\n\n".encode()
