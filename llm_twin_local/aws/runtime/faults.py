"""Failures the runtime injects on purpose, so clients are tested against a bad day.

Knobs, in the emulator's environment:

    LLM_TWIN_CHUNK_JITTER=1         (read when the emulator builds its app) cuts every payload
                                    part at random byte boundaries, the way real networks cut
                                    them; LLM_TWIN_CHUNK_JITTER_SEED picks the sequence.
    LLM_TWIN_THROTTLE_FIRST=N       (read per invocation) answers the first N invocations that
                                    reach a serving endpoint with ThrottlingException.
    LLM_TWIN_STALL_AFTER_PARTS=N    (read per invocation) goes silent after the Nth PayloadPart
                                    of every stream, for LLM_TWIN_STALL_SECONDS (default 600) or
                                    until the model server dies, whichever comes first.
    LLM_TWIN_FAULT=KIND[@N]         (read per invocation) one fault in every stream; a request's
                                    CustomAttributes `llm-twin-fault=KIND[@N]` (or `=none`) replaces
                                    it and the stall, so one emulator serves every kind. Re-cuts, the
                                    events unchanged: split_lines (every line across two parts),
                                    split_utf8 (every multi-byte character across two parts),
                                    coalesce (the whole stream in one part), no_final_newline (the
                                    stream ends right after the last JSON). Breaks, after the Nth
                                    PayloadPart (default 1): model_stream_error,
                                    internal_stream_failure, tgi_error (TGI's own error event, then
                                    the end), reset (a TCP reset of the client's connection),
                                    truncate (a clean end of the stream, mid-generation).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import re
import socket
import struct
import subprocess
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Literal
from wsgiref.types import WSGIEnvironment

from llm_twin.protocol import eventstream
from llm_twin_local.aws import knobs
from llm_twin_local.aws.runtime.servers import ModelServer

log = logging.getLogger(__name__)

JITTER_ENV = "LLM_TWIN_CHUNK_JITTER"
JITTER_SEED_ENV = "LLM_TWIN_CHUNK_JITTER_SEED"
THROTTLE_FIRST_ENV = "LLM_TWIN_THROTTLE_FIRST"
STALL_AFTER_PARTS_ENV = "LLM_TWIN_STALL_AFTER_PARTS"
STALL_SECONDS_ENV = "LLM_TWIN_STALL_SECONDS"
DEFAULT_STALL_SECONDS = 600.0
FAULT_ENV = "LLM_TWIN_FAULT"
FAULT_ATTRIBUTE = "llm-twin-fault"
"""The CustomAttributes key that picks one invocation's stream fault, over LLM_TWIN_FAULT."""
RESET_GRACE_SECONDS = 0.5
"""How long a `reset` waits before the reset, so the client has read the parts before it."""
RESHAPING_FAULTS = ("split_lines", "split_utf8", "coalesce", "no_final_newline")
"""Faults that only move the cuts between parts: the client must parse the very same events."""
BREAKING_FAULTS = ("model_stream_error", "internal_stream_failure", "tgi_error", "reset", "truncate")
"""Faults that end the stream after some PayloadParts: the client must fail, keeping the text so far."""


@dataclass(frozen=True)
class Jitter:
    """Cuts parts at random byte boundaries, reproducibly for one seed."""

    seed: int

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Jitter | None:
        if not knobs.switch(environ, JITTER_ENV):
            return None
        return cls(int(environ.get(JITTER_SEED_ENV) or "0"))

    def cutter(self) -> Callable[[bytes], Iterator[bytes]]:
        rng = random.Random(self.seed)

        def cut(data: bytes) -> Iterator[bytes]:
            start = 0
            while start < len(data):
                size = rng.randint(1, max(1, min(len(data) - start, 16)))
                yield data[start : start + size]
                start += size

        return cut


@dataclass(frozen=True)
class StreamFault:
    """One injected stream fault, written `kind` or `kind@N`."""

    kind: str
    """One of RESHAPING_FAULTS or BREAKING_FAULTS."""
    after_parts: int = 1
    """A breaking fault strikes after this many PayloadParts; a shorter stream ends cleanly."""

    @classmethod
    def parse(cls, spec: str, source: str) -> StreamFault | None:
        """None for an empty spec or `none`; an invalid one is logged and ignored, like the other knobs."""
        spec = spec.strip()
        if spec in ("", "none"):
            return None
        kind, at, count = spec.partition("@")
        after = int(count) if count.strip().isdigit() else 0
        if (kind in RESHAPING_FAULTS and not at) or (kind in BREAKING_FAULTS and (not at or after >= 1)):
            return cls(kind, after if at else 1)
        log.warning(
            "ignoring %s=%r: expected one of %s, or one of %s with an optional @N (N >= 1)",
            source,
            spec,
            ", ".join(RESHAPING_FAULTS),
            ", ".join(BREAKING_FAULTS),
        )
        return None


@dataclass(frozen=True)
class Faults:
    """Failures the runtime injects on purpose; none unless the environment asks."""

    throttle_first: int = 0
    """Answer this many invocations, the first ones, with ThrottlingException."""
    stall_after_parts: int | None = None
    """Go silent after this many PayloadParts of every stream; None never stalls."""
    stall_seconds: float = DEFAULT_STALL_SECONDS
    """How long a stall lasts before the stream goes on."""
    stream_fault: StreamFault | None = None
    """The fault every stream gets (LLM_TWIN_FAULT), unless its request names another."""

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Faults:
        stall_seconds = knobs.number(environ, STALL_SECONDS_ENV, float)
        return cls(
            throttle_first=knobs.number(environ, THROTTLE_FIRST_ENV, int) or 0,
            stall_after_parts=knobs.number(environ, STALL_AFTER_PARTS_ENV, int),
            stall_seconds=DEFAULT_STALL_SECONDS if stall_seconds is None else stall_seconds,
            stream_fault=StreamFault.parse(environ.get(FAULT_ENV, ""), FAULT_ENV),
        )

    def for_request(self, custom_attributes: str | None) -> Faults:
        """These faults, or, when the request has an `llm-twin-fault` attribute, its stream fault instead.

        The attribute replaces both stream knobs of the environment (LLM_TWIN_FAULT and the
        stall), so one emulator serves clean, stalled and broken streams side by side.
        """
        for item in re.split(r"[;,]", custom_attributes or ""):
            key, equals, value = item.partition("=")
            if equals and key.strip() == FAULT_ATTRIBUTE:
                fault = StreamFault.parse(value, f"CustomAttributes {FAULT_ATTRIBUTE}")
                return replace(self, stream_fault=fault, stall_after_parts=None)
        return self


class Reshaper:
    """Cuts a stream's bytes into PayloadParts; only where the cuts fall changes, never the bytes.

    Except for `no_final_newline`, which drops the line breaks that end the stream.
    """

    def __init__(
        self,
        cut: Callable[[bytes], Iterable[bytes]] | None = None,
        hold: Literal["", "all", "newlines"] = "",
    ) -> None:
        self.cut = cut
        # "all" sends everything as one part at the end; "newlines" holds trailing line breaks back.
        self.hold = hold
        self._held: list[bytes] = []

    @classmethod
    def for_stream(cls, fault: StreamFault | None, jitter: Jitter | None) -> Reshaper:
        kind = fault.kind if fault is not None else None
        if kind == "split_lines":
            return cls(_cut_every_line)
        if kind == "split_utf8":
            return cls(_cut_every_character)
        if kind == "coalesce":
            return cls(hold="all")
        if kind == "no_final_newline":
            return cls(hold="newlines")
        return cls(jitter.cutter() if jitter else None)

    def feed(self, data: bytes) -> Iterable[bytes]:
        self._held.append(data)
        if self.hold == "all":
            return ()
        data = b"".join(self._held)
        self._held.clear()
        if self.hold == "newlines":
            body = data.rstrip(b"\r\n")
            if len(body) < len(data):
                self._held.append(data[len(body) :])
            data = body
        if not data:
            return ()
        return (data,) if self.cut is None else self.cut(data)

    def end(self) -> Iterable[bytes]:
        """What is still held when the stream ends (held line breaks are dropped)."""
        held = b"".join(self._held)
        self._held.clear()
        return (held,) if held and self.hold == "all" else ()


def _cut_every_line(data: bytes) -> list[bytes]:
    """Each line of `data` in two pieces, cut at its middle."""
    pieces = []
    start = 0
    while start < len(data):
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end + 1
        middle = (start + end) // 2
        pieces += [data[start:middle], data[middle:end]]
        start = end
    return [piece for piece in pieces if piece]


def _cut_every_character(data: bytes) -> list[bytes]:
    """`data` cut right after the first byte of every multi-byte UTF-8 character."""
    cuts = [i + 1 for i, byte in enumerate(data) if byte >= 0xC0 and i + 1 < len(data)]
    return [data[start:end] for start, end in zip([0, *cuts], [*cuts, len(data)], strict=True)]


def broken(
    parts: Generator[bytes, None, None], fault: StreamFault, server: ModelServer, environ: WSGIEnvironment
) -> Generator[bytes, None, None]:
    """`parts`, ended by `fault` once `fault.after_parts` of them went out."""
    try:
        for sent, part in enumerate(parts, start=1):
            yield part
            if sent < fault.after_parts:
                continue
            log.warning(
                "endpoint %s: breaking the stream with %s after %d parts (%s)",
                server.endpoint_name,
                fault.kind,
                sent,
                FAULT_ENV,
            )
            injected = f"injected by {FAULT_ENV}={fault.kind}@{fault.after_parts}"
            if fault.kind == "model_stream_error":
                yield eventstream.model_stream_error(f"The model stream broke ({injected}).", "StreamBroken")
            elif fault.kind == "internal_stream_failure":
                yield eventstream.internal_stream_failure(f"Internal stream failure ({injected}).")
            elif fault.kind == "tgi_error":
                error = {
                    "error": f"Request failed during generation ({injected})",
                    "error_type": "incomplete_generation",
                }
                compact = json.dumps(error, separators=(",", ":"))
                yield eventstream.payload_part(f"data:{compact}\n\n".encode())
            elif fault.kind == "reset":
                time.sleep(RESET_GRACE_SECONDS)
                _reset(environ)
            # "truncate" ends the stream here, as cleanly as a finished one.
            return
    finally:
        parts.close()


def _reset(environ: WSGIEnvironment) -> None:
    """Reset the client's TCP connection (RST, not FIN), as a failing network does.

    A socket whose peer is already gone takes over the connection's descriptor: the
    connection's last reference closes with a zero linger, which sends the reset, and the
    server's own later writes fail as they do for any dropped client (quietly), without
    touching a descriptor that another thread may have opened since.
    """
    connection = environ["werkzeug.socket"]
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    stand_in, peer = socket.socketpair()
    peer.close()
    with stand_in:
        os.dup2(stand_in.fileno(), connection.fileno())


def stalled(
    parts: Generator[bytes, None, None], after: int, seconds: float, server: ModelServer
) -> Generator[bytes, None, None]:
    """`parts`, with a silence of `seconds` once `after` of them went out.

    A model server that dies meanwhile ends the silence: its death, not the stall, is
    what the client must then hear about, at once.
    """
    try:
        for sent, part in enumerate(parts, start=1):
            yield part
            if sent == after:
                log.warning(
                    "endpoint %s: stalling the stream for %.0fs after %d parts (%s)",
                    server.endpoint_name,
                    seconds,
                    after,
                    STALL_AFTER_PARTS_ENV,
                )
                if server.process is None:
                    time.sleep(seconds)
                else:
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        server.process.wait(seconds)
    finally:
        parts.close()
