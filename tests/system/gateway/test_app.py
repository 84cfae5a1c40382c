"""The gateway over real sockets, in front of the session's endpoint on the emulator."""

from __future__ import annotations

import json
import os
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
from llm_twin.errors import ModelStreamError
from llm_twin_local.aws.daemon import free_port
from tests.support.gateway import (
    ALLOWED_ORIGIN,
    MAX_BODY,
    TOKEN,
    Gateway,
    gateway_app,
    serving,
    sse_data,
)
from tests.support.inference import inference_endpoint

pytestmark = pytest.mark.stack

PROMPT = "Write a haiku about the cloud"
PARAMETERS = {"max_new_tokens": 12, "temperature": 0.7, "seed": 7}


def _chunks(response) -> list[bytes]:
    return list(iter(lambda: response.read1(65536), b""))


def test_generate_stream_is_tgi_sse_with_the_same_text_as_generate(
    gateway: Gateway, applied_stack: Deployment
) -> None:
    response = gateway.post("/generate_stream", {"inputs": PROMPT, "parameters": PARAMETERS})
    assert response.status == 200
    assert response.getheader("Content-Type").startswith("text/event-stream")
    assert response.getheader("Cache-Control") == "no-cache"
    # Our own TGI parser reads the gateway exactly as it reads TGI.
    events = list(parse_generate_stream(_chunks(response)))
    assert [e.index for e in events] == list(range(1, 13))
    assert all(e.generated_text is None for e in events[:-1])
    assert events[-1].details is not None and events[-1].details.generated_tokens == 12

    client = inference_endpoint(applied_stack.settings)
    client.set_payload(PROMPT, PARAMETERS)
    assert events[-1].generated_text == client.generate().text


class _HeldAfterFirstToken(LLMInferenceSagemakerEndpoint):
    """The real stream, held after its first event until the test has seen that event."""

    seen_first = threading.Event()

    def stream(self):
        events = super().stream()
        yield next(events)
        if not self.seen_first.wait(30):
            raise AssertionError("the first token never reached the browser side")
        yield from events


def test_first_token_arrives_while_the_generation_is_still_held(applied_stack: Deployment) -> None:
    # Were the gateway to buffer, the first event could only arrive after the rest,
    # which waits for this very read: the read would time out instead.
    with serving(gateway_app(applied_stack, _HeldAfterFirstToken)) as held:
        response = held.post("/generate_stream", {"inputs": PROMPT, "parameters": PARAMETERS}, timeout=10)
        data = sse_data(response)
        first = json.loads(next(data))
        assert first["index"] == 1 and first["generated_text"] is None
        _HeldAfterFirstToken.seen_first.set()
        rest = [json.loads(d) for d in data]
    assert rest[-1]["generated_text"] is not None and len(rest) == 11


class _BrokenAfterThreeTokens(LLMInferenceSagemakerEndpoint):
    """The real stream, cut as SageMaker cuts one with InternalStreamFailure."""

    def stream(self):
        texts = []
        for event in super().stream():
            yield event
            texts.append(event.token.text)
            if len(texts) == 3:
                raise ModelStreamError("InternalStreamFailure: cut by the test", partial_text="".join(texts))


def test_an_error_mid_stream_is_an_sse_error_event_keeping_the_text(applied_stack: Deployment) -> None:
    with serving(gateway_app(applied_stack, _BrokenAfterThreeTokens)) as broken:
        response = broken.post("/generate_stream", {"inputs": PROMPT, "parameters": PARAMETERS})
        assert response.status == 200
        events = [json.loads(d) for d in sse_data(response)]
    assert len(events) == 4
    error = events[-1]
    assert error["error_type"] == "model_stream_error" and "cut by the test" in error["error"]
    assert error["partial_text"] == "".join(e["token"]["text"] for e in events[:3])


def test_an_endpoint_validation_error_before_any_token_is_422(gateway: Gateway) -> None:
    # max_new_tokens within the gateway's bound but over the endpoint's MAX_TOTAL_TOKENS.
    response = gateway.post("/generate_stream", {"inputs": PROMPT, "parameters": {"max_new_tokens": 8000}})
    body = json.loads(response.read())
    assert response.status == 422 and body["error_type"] == "validation", body


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
    assert body["error_type"] == "unauthorized" and TOKEN not in json.dumps(body)


def test_a_body_over_the_limit_is_413(gateway: Gateway) -> None:
    response = gateway.post("/generate_stream", {"inputs": "x" * MAX_BODY})
    assert response.status == 413 and "4096" in json.loads(response.read())["error"]


def test_a_chunked_body_without_content_length_is_counted_and_413(gateway: Gateway) -> None:
    # No Content-Length to trust: the limit is enforced on the bytes as they arrive.
    connection = gateway.connection(timeout=10)
    pieces = (b'{"inputs": "' + b"x" * 1000 for _ in range(6))
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
        (b"{not json", "application/json", 400, "not valid JSON"),
        (b'{"inputs": ""}', "application/json", 422, "inputs must be a non-empty string"),
        (b'{"inputs": "hi", "parameters": {"max_new_tokens": 0}}', "application/json", 422, "max_new_tokens"),
        (
            b'{"inputs": "hi", "parameters": {"best_of": 2}}',
            "application/json",
            422,
            "unknown parameter 'best_of'",
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


def test_llm_twin_serve_runs_the_gateway_as_a_process(
    applied_stack: Deployment, shared_env: dict[str, str], tmp_path: Path
) -> None:
    port = free_port()
    env = {**os.environ, **shared_env, "GATEWAY_TOKEN": TOKEN, "GATEWAY_HEADER_TIMEOUT_SECONDS": "1"}
    command = [str(Path(sys.executable).parent / "llm-twin"), "--env-file", str(tmp_path / "none.env")]
    process = subprocess.Popen(
        [*command, "serve", "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        served = Gateway("127.0.0.1", port)
        deadline = time.monotonic() + 60
        while True:
            try:
                connection = served.connection(timeout=5)
                connection.request("GET", "/health")
                assert connection.getresponse().status == 200
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, "llm-twin serve did not start"
                time.sleep(0.2)
        response = served.post("/generate_stream", {"inputs": PROMPT, "parameters": PARAMETERS})
        assert json.loads(list(sse_data(response))[-1])["details"]["generated_tokens"] == 12
        # The settings reach the sockets: a client stuck in its headers is cut after 1 s.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as slow:
            slow.sendall(b"GET /health HTTP/1.1\r\nHost: gateway\r\n")
            assert slow.recv(4096).startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0].decode()
    assert f"http://127.0.0.1:{port}/" in output and TOKEN not in output
    assert "headers within 1 s, bodies within 30 s, at most 256 connections" in output
