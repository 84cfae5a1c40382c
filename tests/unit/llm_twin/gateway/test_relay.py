"""The thread-to-event-loop relay: each item is handed over at once (pure, no network)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from llm_twin.errors import ModelStreamError
from llm_twin.gateway.relay import relay


def test_an_item_arrives_before_the_iterator_yields_the_next() -> None:
    received = threading.Event()
    closed = threading.Event()

    def items():
        try:
            yield "first"
            # Held until the consumer has the first item: a relay that batched would hang here.
            if not received.wait(5):
                raise AssertionError("the first item was not handed over on its own")
            yield "second"
        finally:
            closed.set()

    async def consume() -> list[str]:
        seen = []
        async for item in relay(items()):
            seen.append(item)
            received.set()
        return seen

    assert asyncio.run(consume()) == ["first", "second"]
    assert closed.wait(5)


def test_an_exception_in_the_thread_is_raised_to_the_consumer_after_the_items_before_it() -> None:
    def items():
        yield 1
        raise ModelStreamError("cut", partial_text="x")

    async def consume() -> list[int]:
        seen = []
        with pytest.raises(ModelStreamError, match="cut"):
            async for item in relay(items()):
                seen.append(item)
        return seen

    assert asyncio.run(consume()) == [1]


def test_a_consumer_that_stops_early_closes_the_iterator() -> None:
    closed = threading.Event()

    def items():
        try:
            n = 0
            while True:
                n += 1
                yield n
        finally:
            closed.set()

    async def consume() -> None:
        stream = relay(items())
        assert await anext(stream) == 1
        await stream.aclose()

    asyncio.run(consume())
    assert closed.wait(5)
