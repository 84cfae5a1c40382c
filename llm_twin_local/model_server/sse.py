"""Server-sent events as TGI 3.x writes them: `data: {json}\n\n`, compact JSON, raw UTF-8.

axum 0.7 (TGI 3.x) writes one space after the field's colon (axum PR #2149,
research.md A1); huggingface_hub only recognises the end of a chat stream as `data: [DONE]`.

The reverse, reading events back, is `llm_twin.protocol.sse`, the one splitter the client,
the tests and the benchmarks share.
"""

from __future__ import annotations

import json
import math

import numpy as np

DONE = b"data: [DONE]\n\n"
"""The last event of a Messages API or /v1/completions stream (never of /generate_stream)."""


def f32(value: float | None) -> float | None:
    """A float as serde prints an f32: the shortest decimal that round-trips; NaN/inf become null."""
    if value is None or not math.isfinite(value):
        return None
    return float(str(np.float32(value)))


def dumps(payload: object) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def event(payload: object) -> bytes:
    return f"data: {dumps(payload)}\n\n".encode()
