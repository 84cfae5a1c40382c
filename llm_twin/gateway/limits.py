"""Read deadlines and a connection cap for the gateway's sockets (uvicorn has neither).

uvicorn only closes a keep-alive connection that sends nothing at all: a client that
sends half a request line, or a body one byte at a time, holds its socket for ever, and
`limit_concurrency` answers 503 per *request*, so sockets that never finish their headers
are never counted. On `--host 0.0.0.0` that exhausts the process's file descriptors.

`limited_protocol` is uvicorn's own h11 protocol with three additions:

    headers   the request line and headers must be complete within `header_timeout`
              seconds of the connection opening (or going idle after a response);
    body      the whole body must arrive within `body_timeout` seconds of the headers:
              a total deadline, so a byte every half second is cut as surely as silence;
    cap       a connection beyond `max_connections` is answered 503 and closed at once.

Either deadline ends with 408 and `Connection: close` (no answer when no byte of a
request arrived: a 408 on an idle keep-alive socket would confuse the client's next
request). The listen backlog is kept small too: asyncio accepts up to `backlog` sockets
per wake-up, and a refused one lives a few turns of the loop, so the backlog is what
bounds the over-cap sockets open at one moment (`max_client_sockets`).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any, Literal

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from llm_twin.errors import SettingsError

__all__ = ["ConnectionLimits", "limited_protocol", "reserve_descriptors", "uvicorn_options"]


@dataclass(frozen=True)
class ConnectionLimits:
    """How long a client may take to send a request, and how many sockets it may hold."""

    header_timeout: float = 10.0
    """Seconds for the request line and headers, from connect (or from the previous response)."""
    body_timeout: float = 30.0
    """Seconds for the whole body once the headers are in; 256 KiB needs about 9 KB/s."""
    max_connections: int = 256
    """Open client sockets at most; one more is answered 503 and closed."""

    @property
    def backlog(self) -> int:
        """The listen backlog: also the most sockets asyncio accepts in one wake-up, so it is kept small."""
        return min(self.max_connections, 64)

    @property
    def max_client_sockets(self) -> int:
        """Client sockets open at one moment at most: the capped ones, plus a few accept bursts
        being turned away (a refused socket lives for about three turns of the event loop)."""
        return self.max_connections + 4 * self.backlog

    @property
    def descriptors(self) -> int:
        """File descriptors the gateway may need: client sockets, one upstream per request, a margin."""
        return self.max_client_sockets + self.max_connections + 64


def _answer(status: int, reason: str, message: str, error_type: str, *extra: str) -> bytes:
    """A whole HTTP/1.1 response, written straight to the socket before it is closed."""
    body = json.dumps({"error": message, "error_type": error_type}).encode()
    head = [
        f"HTTP/1.1 {status} {reason}",
        "content-type: application/json",
        f"content-length: {len(body)}",
        "connection: close",
        *extra,
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class _LimitedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, with the deadlines and the cap of `limits` (set by `limited_protocol`)."""

    limits: ConnectionLimits = ConnectionLimits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._refused = False
        self._phase: Literal["headers", "body"] | None = None
        self._phase_bytes = 0
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.server_state.connections) >= self.limits.max_connections:
            # Never registered: this socket is closed before it costs more than a moment.
            self._refused = True
            message = f"the gateway already holds its {self.limits.max_connections} connections; retry later"
            transport.write(_answer(503, "Service Unavailable", message, "overloaded", "retry-after: 1"))
            transport.close()
            return
        super().connection_made(transport)
        self._follow()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._refused:
            return
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        self._phase_bytes += len(data)
        super().data_received(data)
        self._follow()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._follow()

    def _follow(self) -> None:
        """Arm the deadline of the part of the request the client is sending now, if it changed."""
        if self.transport.is_closing():
            self._disarm()
            return
        state = self.conn.their_state
        phase: Literal["headers", "body"] | None = (
            "headers" if state is h11.IDLE else "body" if state is h11.SEND_BODY else None
        )
        if phase == self._phase:
            return
        self._disarm()
        self._phase, self._phase_bytes = phase, 0
        if phase == "headers":
            self._deadline = self.loop.call_later(self.limits.header_timeout, self._headers_late)
        elif phase == "body":
            self._deadline = self.loop.call_later(self.limits.body_timeout, self._body_late)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self._phase = None

    def _headers_late(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self._phase_bytes:
            message = f"the request headers did not arrive within {self.limits.header_timeout:g} s"
            self.transport.write(_answer(408, "Request Timeout", message, "request_timeout"))
        self.transport.close()

    def _body_late(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is not None and not cycle.response_started:
            message = f"the request body did not arrive within {self.limits.body_timeout:g} s"
            self.transport.write(_answer(408, "Request Timeout", message, "request_timeout"))
        if cycle is not None:
            # The app is waiting for the rest of the body: it reads a disconnect instead, and
            # whatever it sends after this is dropped, as for a client that went away.
            cycle.disconnected = True
            cycle.message_event.set()
        self.transport.close()


def reserve_descriptors(limits: ConnectionLimits) -> None:
    """Raise the soft open-file limit to what `limits` may need; SettingsError when the hard one is lower.

    A cap above what the process may open would fail as the defect did, with EMFILE on
    accept, only later and under load: refuse it at start instead.
    """
    try:
        import resource
    except ImportError:  # not on POSIX: nothing to check against
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = limits.descriptors
    if soft == resource.RLIM_INFINITY or soft >= need:
        return
    if hard != resource.RLIM_INFINITY and hard < need:
        fits = next(
            (
                n
                for n in range(limits.max_connections, 0, -1)
                if ConnectionLimits(max_connections=n).descriptors <= hard
            ),
            0,
        )
        remedy = f"lower it to {fits} or raise the limit" if fits else "raise the limit"
        raise SettingsError(
            f"GATEWAY_MAX_CONNECTIONS={limits.max_connections} needs up to {need} open files, but this "
            f"process may open {hard} (ulimit -Hn): {remedy}"
        )
    resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))


def limited_protocol(limits: ConnectionLimits) -> type[H11Protocol]:
    """uvicorn's h11 protocol class bound to `limits` (uvicorn builds one instance per socket)."""
    return type("LimitedH11Protocol", (_LimitedH11Protocol,), {"limits": limits})


def uvicorn_options(limits: ConnectionLimits) -> dict[str, Any]:
    """The options `llm-twin serve` gives `uvicorn.run`; the tests start the gateway with them too."""
    return {
        "http": limited_protocol(limits),
        "backlog": limits.backlog,
        # An idle keep-alive socket is closed by the header deadline at the latest.
        "timeout_keep_alive": min(5, limits.header_timeout),
        "server_header": False,
    }
