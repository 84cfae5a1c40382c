"""Carry a blocking iterator (boto3's event stream) into async code, item by item.

boto3 reads the endpoint's stream with blocking calls, so it runs in its own thread.
Each item is handed to the event loop the moment the thread has it: nothing is
batched, so a browser sees a token as soon as SageMaker sends it. When the consumer
stops early (the browser went away), the thread stops at the next item and closes the
iterator, which ends the call to the endpoint.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, Iterator
from typing import TypeVar

__all__ = ["relay"]

T = TypeVar("T")
_ITEM, _END, _RAISED = range(3)


async def relay(items: Iterator[T]) -> AsyncGenerator[T, None]:
    """Yield what `items` yields, as soon as it yields it; its exceptions are re-raised here."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[int, object]] = asyncio.Queue()
    stopped = threading.Event()

    def hand_over(kind: int, value: object) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, (kind, value))
        except RuntimeError:
            stopped.set()  # the loop is closed: nobody is listening any more

    def pump() -> None:
        try:
            for item in items:
                if stopped.is_set():
                    break
                hand_over(_ITEM, item)
            else:
                hand_over(_END, None)
        except BaseException as exc:  # handed over, re-raised in the consumer
            hand_over(_RAISED, exc)
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=pump, name="llm-twin-relay", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = await queue.get()
            if kind == _ITEM:
                yield value  # type: ignore[misc]
            elif kind == _END:
                return
            else:
                raise value  # type: ignore[misc]
    finally:
        stopped.set()
