"""Stand-ins for outside services, for tests that must stay offline (never imported by llm_twin).

`hub_server.FakeHub` is the Hugging Face Hub. Here: endpoints that misbehave the two ways an
unreachable Hub does, and a guard that keeps `huggingface_hub` on loopback in process.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def refused_endpoint() -> Iterator[str]:
    """An endpoint that refuses connections: bound but never listening, so the port stays ours."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


@contextmanager
def silent_endpoint() -> Iterator[str]:
    """An endpoint that completes the TCP handshake and never answers, like a black-holing proxy."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)  # never accepted: the kernel finishes handshakes and nobody ever reads
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


@contextmanager
def loopback_only() -> Iterator[None]:
    """Make huggingface_hub's shared HTTP client refuse any host but 127.0.0.1.

    Why: in process, `HF_ENDPOINT` was read at import, so every call passes `endpoint=`; this
    guard turns a code path that ignores it into a failure instead of a trip to huggingface.co.
    """
    from huggingface_hub import close_session, set_client_factory
    from huggingface_hub.utils import _http

    previous = _http._GLOBAL_CLIENT_FACTORY  # private, but keeps the client under test unchanged

    def refuse(request: Any) -> None:
        if request.url.host != "127.0.0.1":
            raise RuntimeError(
                f"a test tried to reach {request.url.host}; only the fake hub on 127.0.0.1 is allowed"
            )

    def factory() -> Any:
        client = previous()
        client.event_hooks = {**client.event_hooks, "request": [*client.event_hooks["request"], refuse]}
        return client

    set_client_factory(factory)
    try:
        yield
    finally:
        set_client_factory(previous)
        close_session()
