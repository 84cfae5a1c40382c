"""The SSE response: TGI's keep-alive comment while idle, and a disconnect that ends the source."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import pytest

from llm_twin.protocol.sse import iter_sse_data
from llm_twin_local.model_server.generation import KEEP_ALIVE, EventStreamResponse

pytestmark = pytest.mark.timeout(30)

SCOPE = {"type": "http", "asgi": {"version": "3.0"}, "method": "POST", "path": "/"}


def _run(response: EventStreamResponse, *, disconnect_after: float | None = None) -> list[bytes]:
    sent: list[bytes] = []

    async def receive() -> dict:
        await asyncio.sleep(3600 if disconnect_after is None else disconnect_after)
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.body":
            sent.append(message["body"])

    asyncio.run(response(SCOPE, receive, send))
    return sent


def test_an_idle_stream_sends_keep_alive_comments_that_clients_skip() -> None:
    async def slow() -> AsyncGenerator[bytes, None]:
        yield b"data: 1\n\n"
        await asyncio.sleep(0.35)
        yield b"data: 2\n\n"

    sent = _run(EventStreamResponse(slow(), keep_alive=0.1))
    assert sent[0] == b"data: 1\n\n" and sent[-2:] == [b"data: 2\n\n", b""]
    assert sent[1:-2] and all(part == KEEP_ALIVE for part in sent[1:-2])
    assert list(iter_sse_data(sent)) == ["1", "2"]


def test_a_disconnect_while_waiting_ends_the_source() -> None:
    closed = []

    async def endless() -> AsyncGenerator[bytes, None]:
        try:
            yield b"data: 1\n\n"
            await asyncio.sleep(3600)
            yield b"data: never\n\n"
        finally:
            closed.append(True)

    sent = _run(EventStreamResponse(endless(), keep_alive=0.05), disconnect_after=0.2)
    assert sent[0] == b"data: 1\n\n" and b"data: never\n\n" not in sent
    assert closed == [True]
