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


class EventStreamResponse(Response):
    """SSE that stops, and closes its event source, as soon as the client disconnects.

    Starlette's StreamingResponse only notices a disconnect on ASGI < 2.4; this one
    always listens for `http.disconnect` next to the stream.
    """

    media_type = "text/event-stream"

    def __init__(self, events: AsyncGenerator[bytes, None]) -> None:
        self.events = events
        self.status_code = 200
        self.background = None
        self.init_headers({"cache-control": "no-cache", "x-accel-buffering": "no"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def pump() -> None:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            async for chunk in self.events:
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
