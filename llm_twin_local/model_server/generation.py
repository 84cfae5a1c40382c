"""One generation between the engine's thread and asyncio: its events, and an SSE response for them.

The engine runs on a thread of its own and hands each event to a sink; here the sink
puts it on the event loop's queue. Both the queue's reader and the SSE response stop
as soon as the client disconnects, which cancels the sequence.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from .engine import Engine, ErrorEvent, Event
from .knobs import GenerationFault
from .params import ValidRequest


async def wait_disconnect(receive: Receive) -> None:
    """Return once the client has gone (ASGI's `http.disconnect`)."""
    while (await receive())["type"] != "http.disconnect":
        pass


class Generation:
    """One engine sequence seen from asyncio: its events arrive on a queue."""

    def __init__(self, engine: Engine, request: ValidRequest, fault: GenerationFault | None = None) -> None:
        loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[Event] = asyncio.Queue()
        self._fault = fault

        def sink(item: Event) -> None:
            loop.call_soon_threadsafe(self._queue.put_nowait, item)

        self.sequence = engine.submit(request, sink)

    async def events(self) -> AsyncIterator[Event]:
        sent = 0
        while True:
            if self._fault is not None and sent == self._fault.after_tokens:
                self.cancel()
                yield ErrorEvent(self._fault.message)
                return
            item = await self._queue.get()
            yield item
            if isinstance(item, ErrorEvent) or item.finished is not None:
                return
            sent += 1

    def cancel(self) -> None:
        self.sequence.cancel()


KEEP_ALIVE = b":\n\n"
"""axum's `KeepAlive::default()`, which TGI sets on its SSE routes: an empty comment."""
KEEP_ALIVE_SECONDS = 15.0
"""axum's default interval: sent when no event has gone out for this long (a long prefill)."""


class EventStreamResponse(Response):
    """SSE that stops, and closes its event source, as soon as the client disconnects.

    Starlette's StreamingResponse only notices a disconnect on ASGI < 2.4; this one
    always listens for `http.disconnect` next to the stream. As TGI's, it sends a keep-alive
    comment after `keep_alive` idle seconds (clients skip lines that are not `data:`).
    """

    media_type = "text/event-stream"

    def __init__(
        self, events: AsyncGenerator[bytes, None], *, keep_alive: float = KEEP_ALIVE_SECONDS
    ) -> None:
        self.events = events
        self.keep_alive = keep_alive
        self.status_code = 200
        self.background = None
        self.init_headers({"cache-control": "no-cache", "x-accel-buffering": "no"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def pump() -> None:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            while True:
                # The same pending read across keep-alives: cancelling it would end the generator.
                next_chunk = asyncio.ensure_future(anext(self.events))
                try:
                    while not (await asyncio.wait({next_chunk}, timeout=self.keep_alive))[0]:
                        await send({"type": "http.response.body", "body": KEEP_ALIVE, "more_body": True})
                    chunk = next_chunk.result()
                except StopAsyncIteration:
                    break
                finally:  # a disconnect cancels this task: the read must end before aclose()
                    if not next_chunk.done():
                        next_chunk.cancel()
                        await asyncio.gather(next_chunk, return_exceptions=True)
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})

        pumping = asyncio.ensure_future(pump())
        watching = asyncio.ensure_future(wait_disconnect(receive))
        try:
            await asyncio.wait({pumping, watching}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (pumping, watching):
                task.cancel()
            await asyncio.gather(pumping, watching, return_exceptions=True)
            await self.events.aclose()
