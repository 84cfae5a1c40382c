"""The gateway over real sockets, in front of the session's endpoint on the emulator."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from llm_twin.client.endpoint import LLMInferenceSagemakerEndpoint
from llm_twin.client.stream.chat import parse_chat_stream
from llm_twin.client.stream.tgi import parse_generate_stream
from llm_twin.control.deploy.deployment import Deployment
from llm_twin_local.aws.daemon import free_port
from tests.support.gateway import (
    ALLOWED_ORIGIN,
    MAX_BODY,
    TOKEN,
    Gateway,
    endpoint_answer,
    endpoint_events,
    gateway_app,
    serving,
    sse_data,
)

pytestmark = pytest.mark.stack

PROMPT = "Write a haiku about the cloud"
PARAMETERS = {"max_new_tokens": 12, "temperature": 0.7, "seed": 7}


def _chunks(response) -> list[bytes]:
    return list(iter(lambda: response.read1(65536), b""))


def test_generate_stream_is_tgi_sse_with_the_endpoints_own_events(
    gateway: Gateway, applied_stack: Deployment
) -> None:
    body = {"inputs": PROMPT, "parameters": {**PARAMETERS, "details": True}}
    response = gateway.post("/generate_stream", body)
    assert response.status == 200
    assert response.getheader("Content-Type").startswith("text/event-stream")
    assert response.getheader("Cache-Control") == "no-cache"
    raw = b"".join(_chunks(response))
    # TGI 3.x's framing: `data: ` with its space, a blank line after each event, no [DONE].
    assert raw.startswith(b"data: {") and raw.endswith(b"}\n\n") and b"[DONE]" not in raw
    events = list(parse_generate_stream([raw]))
    assert [e.index for e in events] == list(range(1, 13))
    assert all(e.generated_text is None for e in events[:-1])
    reference = endpoint_events(
        applied_stack, {**body, "parameters": {**body["parameters"], "return_full_text": False}}
    )
    assert [json.loads(line[6:]) for line in raw.split(b"\n") if line] == reference


class _HeldAfterFirstPart(LLMInferenceSagemakerEndpoint):
    """The real stream, held after its first part until the test has seen that part's event."""

    seen_first = threading.Event()

    def stream_body(self, body):
        parts = super().stream_body(body)
        try:
            yield next(parts)
            if not self.seen_first.wait(30):
                raise AssertionError("the first token never reached the client")
            yield from parts
        finally:
            parts.close()


def test_first_token_arrives_while_the_generation_is_still_held(applied_stack: Deployment) -> None:
    # Were the gateway to buffer, the first event could only arrive after the rest,
    # which waits for this very read: the read would time out instead.
    with serving(gateway_app(applied_stack, _HeldAfterFirstPart)) as held:
        response = held.post("/generate_stream", {"inputs": PROMPT, "parameters": PARAMETERS}, timeout=10)
        data = sse_data(response)
        first = json.loads(next(data))
        assert first["index"] == 1 and first["generated_text"] is None
        _HeldAfterFirstPart.seen_first.set()
        rest = [json.loads(d) for d in data]
    assert rest[-1]["generated_text"] is not None and len(rest) == 11


def test_an_error_mid_stream_is_tgis_error_event_and_the_end(faulty_gateway: Gateway) -> None:
    response = faulty_gateway.post("/generate_stream", {"inputs": PROMPT, "parameters": PARAMETERS})
    assert response.status == 200
    events = [json.loads(d) for d in sse_data(response)]
    assert all("token" in e for e in events[:-1]) and events[:-1]
    assert events[-1] == {"error": events[-1]["error"], "error_type": "incomplete_generation"}
    assert "broke" in events[-1]["error"]


def test_a_chat_stream_error_is_tgis_chat_error_then_done(faulty_gateway: Gateway) -> None:
    body = {"messages": [{"role": "user", "content": PROMPT}], "stream": True, "max_tokens": 12}
    data = list(sse_data(faulty_gateway.post("/v1/chat/completions", body)))
    assert data[-1] == "[DONE]"
    error = json.loads(data[-2])["error"]
    assert error["http_status_code"] == 422 and "broke" in error["message"]


def test_an_endpoint_validation_error_in_a_stream_is_its_event(gateway: Gateway) -> None:
    # truncate over the endpoint's MAX_INPUT_TOKENS: TGI refuses it inside the stream.
    response = gateway.post("/generate_stream", {"inputs": PROMPT, "parameters": {"truncate": 5000}})
    events = [json.loads(d) for d in sse_data(response)]
    assert response.status == 200 and len(events) == 1
    assert events[0]["error_type"] == "validation" and "`truncate`" in events[0]["error"]


def test_an_endpoint_validation_error_without_a_stream_is_422(gateway: Gateway) -> None:
    response = gateway.post("/", {"inputs": PROMPT, "parameters": {"truncate": 5000}})
    body = json.loads(response.read())
    assert response.status == 422 and body["error_type"] == "validation", body


def test_post_base_url_and_generate_answer_tgis_shapes(gateway: Gateway, applied_stack: Deployment) -> None:
    body = {"inputs": PROMPT, "parameters": {"max_new_tokens": 6}}
    listed = json.loads(gateway.post("/", body).read())
    assert listed == endpoint_answer(applied_stack, body)
    single = json.loads(gateway.post("/generate", body).read())
    assert (
        single
        == endpoint_answer(
            applied_stack, {**body, "parameters": {**body["parameters"], "return_full_text": False}}
        )[0]
    )
    streamed = [json.loads(d) for d in sse_data(gateway.post("/", {**body, "stream": True}))]
    assert streamed[-1]["generated_text"] == listed[0]["generated_text"]


def test_chat_completions_streams_openai_chunks_then_done(gateway: Gateway) -> None:
    body = {"messages": [{"role": "user", "content": PROMPT}], "stream": True, "max_tokens": 8, "seed": 3}
    response = gateway.post("/v1/chat/completions", body)
    assert response.status == 200
    raw = b"".join(_chunks(response))
    assert raw.endswith(b"data: [DONE]\n\n")
    chunks = [json.loads(line[6:]) for line in raw.split(b"\n") if line.startswith(b"data: {")]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"} and len({c["id"] for c in chunks}) == 1
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"
    deltas = list(parse_chat_stream([raw]))
    streamed = "".join(d.content for d in deltas)

    whole = gateway.post("/v1/chat/completions", {**body, "stream": False})
    answer = json.loads(whole.read())
    assert whole.status == 200 and answer["object"] == "chat.completion"
    assert answer["choices"][0]["message"]["content"] == streamed


@pytest.mark.parametrize(
    ("path", "authorization"),
    [
        ("/generate_stream", None),
        ("/generate_stream", f"Basic {TOKEN}"),
        ("/generate_stream", "Bearer not-the-token"),
        ("/v1/chat/completions", "Bearer "),
    ],
)
def test_a_request_without_the_token_is_401(gateway: Gateway, path: str, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = gateway.post(path, {"inputs": PROMPT}, token=None, headers=headers)
    body = json.loads(response.read())
    assert response.status == 401
    assert response.getheader("WWW-Authenticate").startswith("Bearer ")
    assert TOKEN not in json.dumps(body)
    if path.startswith("/v1/"):
        assert body["error"]["code"] == "unauthorized" and body["error"]["type"] == "invalid_request_error"
    else:
        assert set(body) == {"error"}  # no error_type: huggingface_hub raises its HTTP error with the 401


def test_a_body_over_the_limit_is_413(gateway: Gateway) -> None:
    response = gateway.post("/generate_stream", {"inputs": "x" * MAX_BODY})
    assert response.status == 413 and str(MAX_BODY) in json.loads(response.read())["error"]


def test_a_chunked_body_without_content_length_is_counted_and_413(gateway: Gateway) -> None:
    # No Content-Length to trust: the limit is enforced on the bytes as they arrive.
    connection = gateway.connection(timeout=10)
    pieces = (b'{"inputs": "' + b"x" * 1000 for _ in range(MAX_BODY // 1000 + 2))
    connection.request(
        "POST",
        "/generate_stream",
        body=pieces,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"},
        encode_chunked=True,
    )
    response = connection.getresponse()
    assert response.status == 413


@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"),
    [
        (b"{not json", "application/json", 400, "Failed to parse the request body as JSON"),
        (b'{"inputs": ""}', "application/json", 422, "Input validation error: `inputs` cannot be empty"),
        (
            b'{"inputs": "hi", "parameters": {"max_new_tokens": 0}}',
            "application/json",
            422,
            "Input validation error: `max_new_tokens` must be strictly positive",
        ),
        (
            b'{"inputs": "hi", "parameters": {"top_k": "a"}}',
            "application/json",
            422,
            'parameters.top_k: invalid type: string "a", expected i32',
        ),
        (b'{"inputs": "hi"}', "text/plain", 415, "application/json"),
    ],
)
def test_bad_requests_get_one_clear_message(
    gateway: Gateway, body: bytes, content_type: str, status: int, message: str
) -> None:
    response = gateway.post("/generate_stream", body, headers={"Content-Type": content_type})
    answer = json.loads(response.read())
    assert response.status == status and message in answer["error"], answer


def _preflight(gateway: Gateway, origin: str):
    connection = gateway.connection()
    connection.request(
        "OPTIONS",
        "/generate_stream",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    response = connection.getresponse()
    response.read()
    return response


def test_cors_preflight_allows_only_the_configured_origin(gateway: Gateway) -> None:
    allowed = _preflight(gateway, ALLOWED_ORIGIN)
    assert allowed.status == 200
    assert allowed.getheader("Access-Control-Allow-Origin") == ALLOWED_ORIGIN
    assert "authorization" in allowed.getheader("Access-Control-Allow-Headers").lower()
    assert allowed.getheader("Access-Control-Allow-Credentials") is None

    refused = _preflight(gateway, "http://evil.example")
    assert refused.status == 400 and refused.getheader("Access-Control-Allow-Origin") is None


def test_health_reports_the_endpoint_status(gateway: Gateway, applied_stack: Deployment) -> None:
    connection = gateway.connection()
    connection.request("GET", "/health")
    response = connection.getresponse()
    body = json.loads(response.read())
    assert response.status == 200
    assert body == {
        "status": "ok",
        "endpoint": applied_stack.settings.names.endpoint,
        "endpoint_status": "InService",
    }


def test_the_chat_page_and_its_script_are_served_without_external_sources(gateway: Gateway) -> None:
    connection = gateway.connection()
    connection.request("GET", "/")
    page = connection.getresponse()
    html = page.read().decode()
    assert page.status == 200 and "default-src 'self'" in page.getheader("Content-Security-Policy")
    assert 'src="/static/chat.js"' in html and "http" not in html.replace("http-equiv", "")
    connection.request("GET", "/static/chat.js")
    script = connection.getresponse()
    assert script.status == 200 and "getReader()" in script.read().decode()


def test_the_gateway_refuses_to_exist_without_a_token() -> None:
    from llm_twin.config import Secret
    from llm_twin.errors import SettingsError
    from llm_twin.gateway import GatewayConfig

    with pytest.raises(SettingsError, match="non-empty bearer token"):
        GatewayConfig(Secret(""))


def test_a_client_that_leaves_mid_stream_does_not_break_the_gateway(gateway: Gateway) -> None:
    connection = gateway.connection()
    body = json.dumps({"inputs": PROMPT, "parameters": {"max_new_tokens": 200}})
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}
    connection.request("POST", "/generate_stream", body=body, headers=headers)
    next(sse_data(connection.getresponse()))
    connection.sock.shutdown(socket.SHUT_RDWR)
    connection.close()
    again = gateway.post("/generate_stream", {"inputs": PROMPT, "parameters": PARAMETERS})
    assert again.status == 200 and json.loads(list(sse_data(again))[-1])["generated_text"] is not None


def _read_all(process: subprocess.Popen[bytes], seen: list[str]) -> threading.Thread:
    """A thread keeping every line `process` prints in `seen`, as it prints it."""
    assert process.stdout is not None
    stdout = process.stdout
    reader = threading.Thread(target=lambda: seen.extend(raw.decode() for raw in stdout), daemon=True)
    reader.start()
    return reader


def _login_link(seen: list[str], deadline: float) -> str:
    """The login link `llm-twin serve` prints on loopback."""
    while time.monotonic() < deadline:
        for line in list(seen):
            found = re.search(r"(http://\S+/\?login=\S+)", line)
            if found:
                return found.group(1)
        time.sleep(0.1)
    raise AssertionError(f"no login link in: {''.join(seen)}")


def test_llm_twin_serve_runs_the_gateway_as_a_process(
    applied_stack: Deployment, shared_env: dict[str, str], tmp_path: Path
) -> None:
    port = free_port()
    env = {**os.environ, **shared_env, "GATEWAY_TOKEN": TOKEN, "GATEWAY_HEADER_TIMEOUT_SECONDS": "1"}
    command = [str(Path(sys.executable).parent / "llm-twin"), "--env-file", str(tmp_path / "none.env")]
    process = subprocess.Popen(
        [*command, "serve", "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    seen: list[str] = []
    reader = _read_all(process, seen)
    try:
        link = _login_link(seen, time.monotonic() + 60)
        code = link.rsplit("=", 1)[1]
        served = Gateway("127.0.0.1", port)
        deadline = time.monotonic() + 60
        while True:
            try:
                connection = served.connection(timeout=5)
                connection.request("GET", link.removeprefix(served.url))
                assert connection.getresponse().status == 200
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, "llm-twin serve did not start"
                time.sleep(0.2)
        response = served.post("/generate_stream", {"inputs": PROMPT, "parameters": PARAMETERS})
        assert json.loads(list(sse_data(response))[-1])["index"] == 12
        # The link's code buys one session cookie, once.
        login = served.post("/login", {"code": code}, token=None)
        cookie = login.getheader("Set-Cookie")
        assert login.status == 204 and cookie.startswith(f"llm_twin_session_{port}=")
        assert {"httponly", "samesite=strict", "path=/"} <= {p.strip().lower() for p in cookie.split(";")}
        assert served.post("/login", {"code": code}, token=None).status == 403
        session = cookie.split(";")[0]
        signed_in = served.post(
            "/generate_stream", {"inputs": PROMPT}, token=None, headers={"Cookie": session}
        )
        assert signed_in.status == 200 and list(sse_data(signed_in))
        # The settings reach the sockets: a client stuck in its headers is cut after 1 s.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as slow:
            slow.sendall(b"GET /health HTTP/1.1\r\nHost: gateway\r\n")
            assert slow.recv(4096).startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    finally:
        process.terminate()
        process.wait(timeout=30)
        reader.join(timeout=10)
        output = "".join(seen)
    assert f"http://127.0.0.1:{port}/" in output and TOKEN not in output
    assert "headers within 1 s, bodies within 30 s, at most 256 connections" in output
    # The code is printed once, on the link's line; the access log shows it redacted.
    assert output.count(code) == 1 and "GET /?login=[redacted]" in output
    assert session.split("=", 1)[1] not in output
