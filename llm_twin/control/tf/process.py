"""One terraform process, read while it runs: stdout parsed on the calling thread (so
Ctrl-C lands there), stderr drained on another (so a chatty stderr never blocks the child).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO

from llm_twin.control.tf.events import LineBuffer, parse_line
from llm_twin.control.tf.messages import ProgressEvent

EventCallback = Callable[[ProgressEvent], None]

READ_SIZE = 65536


@dataclass
class Run:
    """What one finished terraform process left behind."""

    returncode: int
    stdout: str
    stderr: str
    events: list[ProgressEvent]


class StdoutReader:
    """Reads a child's stdout on the calling thread, so Ctrl-C lands here."""

    def __init__(self, pipe: IO[bytes] | None, *, parse: bool, on_event: EventCallback | None) -> None:
        self._pipe = pipe
        self._parse = parse
        self._buffer = LineBuffer()
        self._chunks: list[bytes] = []
        self.events: list[ProgressEvent] = []
        self.on_event = on_event

    def read_all(self) -> None:
        if self._pipe is None or self._pipe.closed:
            return
        # Popen's pipes are BufferedReaders (read1 returns what is there); typeshed says IO[bytes].
        while chunk := self._pipe.read1(READ_SIZE):  # type: ignore[attr-defined]
            self._chunks.append(chunk)
            if self._parse:
                for line in self._buffer.feed(chunk):
                    self._handle(line)
        if self._parse:
            for line in self._buffer.flush():
                self._handle(line)

    def _handle(self, line: str) -> None:
        event = parse_line(line)
        if event is None:
            return
        self.events.append(event)
        self.notify(event)

    def notify(self, event: ProgressEvent) -> None:
        if self.on_event is not None:
            self.on_event(event)

    def text(self) -> str:
        return b"".join(self._chunks).decode("utf-8", errors="replace")


@contextlib.contextmanager
def sigint_ignored() -> Iterator[None]:
    """Ignore Ctrl-C for a while (only the main thread may change signal handlers)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def drain(pipe: IO[bytes] | None, sink: Callable[[bytes], None]) -> None:
    """Read a pipe to its end on a thread, so a chatty stderr never blocks the child."""
    if pipe is None:
        return
    # Popen's pipes are BufferedReaders (read1 returns what is there); typeshed says IO[bytes].
    while chunk := pipe.read1(READ_SIZE):  # type: ignore[attr-defined]
        sink(chunk)
