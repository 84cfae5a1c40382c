"""The gateway's read deadlines and connection cap, over raw sockets against a real uvicorn.

No endpoint is needed: every request here is cut, refused or answered before the gateway
would call AWS. The server runs in this process, so its sockets are counted exactly:
those of this process whose local port is the gateway's (the listener and each accepted
client), read from /proc.
"""

from __future__ import annotations

import contextlib
import os
import resource
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from llm_twin.cli.main import main
from llm_twin.config import Secret
from llm_twin.gateway import GatewayConfig, create_app
from llm_twin.gateway.limits import ConnectionLimits
from tests.support.gateway import TOKEN, Gateway, serving

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="counts sockets through Linux's /proc"),
]

LIMITS = ConnectionLimits(header_timeout=1.0, body_timeout=2.0, max_connections=40)
PARTIAL_HEADERS = b"POST /generate_stream HTTP/1.1\r\nHost: gateway\r\nContent-Type: appl"


def _no_endpoint():
    raise AssertionError("no request in these tests may reach the endpoint")


@pytest.fixture
def limited(request: pytest.FixtureRequest) -> Iterator[Gateway]:
    """A gateway with `LIMITS`, or with the limits a test passes through `indirect`."""
    app = create_app(GatewayConfig(Secret(TOKEN), (), 4096), _no_endpoint, _no_endpoint)
    with serving(app, getattr(request, "param", LIMITS)) as gateway:
        yield gateway


def server_sockets(port: int) -> int:
    """Sockets this process holds on local port `port`: the gateway's listener and accepted clients."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if os.path.exists(table):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(f"socket:[{fields[9]}]")
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # closed since the listing
            count += os.readlink(f"/proc/self/fd/{fd}") in inodes
    return count


def _wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def _connect(gateway: Gateway, first: bytes = b"") -> socket.socket:
    sock = socket.create_connection((gateway.host, gateway.port), timeout=10)
    if first:
        sock.sendall(first)
    return sock


def _read_to_close(sock: socket.socket, timeout: float) -> tuple[bytes, bool]:
    """What the server sent until it closed, and whether it closed within `timeout` seconds."""
    received = b""
    deadline = time.monotonic() + timeout
    try:
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            chunk = sock.recv(65536)
            if not chunk:
                return received, True
            received += chunk
    except TimeoutError:
        return received, False
    except ConnectionResetError:
        return received, True
    return received, False


def _request_head(content_length: int, token: str | None = TOKEN) -> bytes:
    lines = [
        "POST /generate_stream HTTP/1.1",
        "Host: gateway",
        "Content-Type: application/json",
        f"Content-Length: {content_length}",
    ]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _trickle(sock: socket.socket, data: bytes, gap: float, stop: threading.Event) -> threading.Thread:
    """Send `data` one byte every `gap` seconds, in a thread, until it is sent, refused or stopped."""

    def run() -> None:
        for byte in data:
            if stop.wait(gap):
                return
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                return

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_partial_headers_are_answered_408_and_closed_after_the_header_timeout(limited: Gateway) -> None:
    clients = [_connect(limited, PARTIAL_HEADERS) for _ in range(30)]
    started = time.monotonic()
    assert _wait_for(lambda: server_sockets(limited.port) == 31, 5)
    deadline = started + LIMITS.header_timeout + 5
    answers = [_read_to_close(sock, deadline - time.monotonic()) for sock in clients]
    elapsed = time.monotonic() - started
    assert all(closed for _, closed in answers), "a slow-header connection was never closed"
    assert {answer.split(b"\r\n")[0] for answer, _ in answers} == {b"HTTP/1.1 408 Request Timeout"}
    assert b"within 1 s" in answers[0][0]
    assert LIMITS.header_timeout * 0.8 <= elapsed < LIMITS.header_timeout + 5
    assert _wait_for(lambda: server_sockets(limited.port) == 1, 5)


def test_a_silent_connection_is_closed_without_an_answer(limited: Gateway) -> None:
    # No byte of a request arrived, so there is nothing to answer: a 408 here could be read
    # as the answer to the next request a keep-alive client sends.
    sock = _connect(limited)
    started = time.monotonic()
    received, closed = _read_to_close(sock, LIMITS.header_timeout + 10)
    assert closed and received == b""
    assert time.monotonic() - started < LIMITS.header_timeout + 5


def test_a_trickled_body_is_cut_with_408_at_the_body_deadline(limited: Gateway) -> None:
    body = b'{"inputs": "' + b"x" * 50 + b'"}'
    sock = _connect(limited, _request_head(len(body)))
    stop = threading.Event()
    _trickle(sock, body, 0.5, stop)  # 1 byte / 0.5 s: never silent, never finished
    started = time.monotonic()
    try:
        received, closed = _read_to_close(sock, LIMITS.body_timeout + 10)
    finally:
        stop.set()
    elapsed = time.monotonic() - started
    assert closed, "the trickled body was never cut off"
    assert received.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), received
    assert b"connection: close" in received.lower() and b"within 2 s" in received
    assert LIMITS.body_timeout * 0.8 <= elapsed < LIMITS.body_timeout + 5


def test_a_body_trickling_after_an_early_answer_is_cut_too(limited: Gateway) -> None:
    # Without the token the gateway answers 401 before reading the body; the socket must
    # still not be held open by a client that keeps sending it.
    body = b'{"inputs": "' + b"x" * 50 + b'"}'
    sock = _connect(limited, _request_head(len(body), token=None))
    stop = threading.Event()
    _trickle(sock, body, 0.5, stop)
    started = time.monotonic()
    try:
        received, closed = _read_to_close(sock, LIMITS.body_timeout + 10)
    finally:
        stop.set()
    assert received.startswith(b"HTTP/1.1 401 "), received
    assert closed and time.monotonic() - started < LIMITS.body_timeout + 5


def test_normal_requests_are_served_while_slow_clients_hold_connections(limited: Gateway) -> None:
    held = [_connect(limited, PARTIAL_HEADERS) for _ in range(LIMITS.max_connections - 5)]
    assert _wait_for(lambda: server_sockets(limited.port) == len(held) + 1, 5)
    page = limited.connection(timeout=5)
    page.request("GET", "/")
    assert page.getresponse().status == 200
    refused = limited.post("/generate_stream", {"inputs": ""}, timeout=5)
    assert refused.status == 422 and b"`inputs` cannot be empty" in refused.read()
    for sock in held:
        sock.close()


# Held connections must outlive the 300 connection attempts, so their deadline is long here.
CAPPED = ConnectionLimits(header_timeout=30.0, body_timeout=2.0, max_connections=40)


@pytest.mark.parametrize("limited", [CAPPED], indirect=True)
def test_connections_over_the_cap_are_refused_at_once_and_descriptors_stay_bounded(
    limited: Gateway,
) -> None:
    cap = CAPPED.max_connections
    held = [_connect(limited, PARTIAL_HEADERS) for _ in range(cap)]
    assert _wait_for(lambda: server_sockets(limited.port) == cap + 1, 5)
    # 300 connections, as in the report that found the defect: all beyond the cap are turned away.
    peak = 0
    answered = []
    for _ in range(300 - cap):
        sock = _connect(limited)
        started = time.monotonic()
        received, closed = _read_to_close(sock, 5)
        assert closed and time.monotonic() - started < 1, "a connection over the cap was kept"
        # A refusal is a 503 when it arrives before the close (a reset may overtake it).
        answered += [received] if received else []
        peak = max(peak, server_sockets(limited.port))
        sock.close()
    assert answered and all(r.startswith(b"HTTP/1.1 503 Service Unavailable\r\n") for r in answered)
    assert b"retry-after: 1" in answered[0] and f"its {cap} connections".encode() in answered[0]
    assert peak == cap + 1
    # Once the slow clients are gone, the gateway serves again.
    for sock in held:
        sock.close()
    assert _wait_for(lambda: server_sockets(limited.port) == 1, 5)
    page = limited.connection(timeout=5)
    page.request("GET", "/")
    assert page.getresponse().status == 200


BURST = ConnectionLimits(header_timeout=2.0, body_timeout=2.0, max_connections=50)


@pytest.mark.parametrize("limited", [BURST], indirect=True)
def test_300_slow_clients_at_once_never_hold_more_than_the_cap(limited: Gateway) -> None:
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.wait(0.01):
            peak = max(peak, server_sockets(limited.port))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    clients = []
    for _ in range(300):
        sock = _connect(limited)
        with contextlib.suppress(OSError):  # a refused one may be closed already
            sock.sendall(PARTIAL_HEADERS)
        clients.append(sock)
    deadline = time.monotonic() + BURST.header_timeout + 5
    closed = [_read_to_close(sock, deadline - time.monotonic())[1] for sock in clients]
    stop.set()
    sampler.join()
    assert all(closed), f"{closed.count(False)} of 300 slow clients still connected"
    assert BURST.max_connections < peak <= 1 + BURST.max_client_sockets  # the listener, and the clients
    assert _wait_for(lambda: server_sockets(limited.port) == 1, 5)


@pytest.mark.parametrize(
    ("name", "value", "allowed"),
    [
        ("GATEWAY_HEADER_TIMEOUT_SECONDS", "0", "1 to 300"),
        ("GATEWAY_HEADER_TIMEOUT_SECONDS", "inf", "1 to 300"),
        ("GATEWAY_BODY_TIMEOUT_SECONDS", "-5", "1 to 3600"),
        ("GATEWAY_BODY_TIMEOUT_SECONDS", "0.5", "1 to 3600"),
        ("GATEWAY_MAX_CONNECTIONS", "0", "1 to 10000"),
        ("GATEWAY_MAX_CONNECTIONS", "1000000", "1 to 10000"),
    ],
)
def test_serve_refuses_a_bad_limit_with_one_line_and_exit_2(
    tmp_path: Path, name: str, value: str, allowed: str
) -> None:
    env = {"LLM_TWIN_STATE_DIR": str(tmp_path), "LOCAL_AWS_PORT": "1", name: value}
    result = CliRunner().invoke(main, ["--env-file", str(tmp_path / "none.env"), "serve"], env=env)
    assert result.exit_code == 2, result.output
    assert (
        result.stderr
        == f"SettingsError: {name}={value!r} is invalid: expected a whole number from {allowed}\n"
    )
    assert not (tmp_path / "gateway").exists()


def _open_files(soft: int, hard: int) -> Callable[[], None]:
    return lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_serve_refuses_a_cap_the_open_file_limit_cannot_hold(tmp_path: Path) -> None:
    env = {**os.environ, "LLM_TWIN_STATE_DIR": str(tmp_path), "LOCAL_AWS_PORT": "1"}
    command = [
        str(Path(sys.executable).parent / "llm-twin"),
        "--env-file",
        str(tmp_path / "none.env"),
        "serve",
    ]
    result = subprocess.run(
        command, env=env, preexec_fn=_open_files(200, 200), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr == (
        "SettingsError: GATEWAY_MAX_CONNECTIONS=256 needs up to 832 open files, but this process may "
        "open 200 (ulimit -Hn): lower it to 22 or raise the limit\n"
    )
    assert (
        ConnectionLimits(max_connections=22).descriptors
        <= 200
        < ConnectionLimits(max_connections=23).descriptors
    )
    assert not (tmp_path / "gateway").exists()


def test_the_soft_open_file_limit_is_raised_to_what_the_cap_needs() -> None:
    code = (
        "import resource\n"
        "from llm_twin.gateway.limits import ConnectionLimits, reserve_descriptors\n"
        "reserve_descriptors(ConnectionLimits())\n"
        "print(resource.getrlimit(resource.RLIMIT_NOFILE)[0])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        preexec_fn=_open_files(200, 4096),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout == f"{ConnectionLimits().descriptors}\n", result.stderr
