"""A real gateway (uvicorn on a free loopback port, in a thread of the test process), and how to call it."""

from __future__ import annotations

import contextlib
import http.client
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import uvicorn

from llm_twin.cli.serve import endpoint_health
from llm_twin.client.endpoint import LLMInferenceSagemakerEndpoint
from llm_twin.config import Secret
from llm_twin.control.deploy.deployment import Deployment
from llm_twin.gateway import GatewayConfig, create_app
from llm_twin.gateway.limits import ConnectionLimits, uvicorn_options
from llm_twin_local.aws.daemon import free_port
from tests.support.inference import inference_endpoint

TOKEN = "test-gateway-token-0123456789"
ALLOWED_ORIGIN = "http://allowed.example:3000"
MAX_BODY = 32768


@dataclass(frozen=True)
class Gateway:
    """Where a running gateway listens, and how to call it."""

    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def connection(self, timeout: float = 60.0) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def post(
        self,
        path: str,
        body: object,
        *,
        token: str | None = TOKEN,
        headers: dict[str, str] | None = None,
        timeout: float = 60.0,
    ) -> http.client.HTTPResponse:
        """POST JSON; the response is returned unread, so a test can read it as it streams."""
        connection = self.connection(timeout)
        sent = {"Content-Type": "application/json", **(headers or {})}
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        connection.request("POST", path, body=raw, headers=sent)
        return connection.getresponse()


@contextlib.contextmanager
def serving(app, limits: ConnectionLimits | None = None) -> Iterator[Gateway]:
    """Run `app` as `llm-twin serve` runs it (uvicorn, the default limits), on a free port, in a thread."""
    port = free_port()
    options = uvicorn_options(limits or ConnectionLimits())
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **options))
    thread = threading.Thread(target=server.run, name="gateway", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the gateway did not start")
        time.sleep(0.02)
    try:
        yield Gateway("127.0.0.1", port)
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def client_factory(
    deployment: Deployment, cls: type[LLMInferenceSagemakerEndpoint] = LLMInferenceSagemakerEndpoint
) -> Callable[[], LLMInferenceSagemakerEndpoint]:
    """A fresh client per request on the deployment's endpoint, sharing one boto3 client."""
    base = inference_endpoint(deployment.settings)
    return lambda: cls(base.endpoint_name, base.client)


def gateway_app(
    deployment: Deployment, cls: type[LLMInferenceSagemakerEndpoint] = LLMInferenceSagemakerEndpoint
):
    config = GatewayConfig(Secret(TOKEN), (ALLOWED_ORIGIN,), MAX_BODY)
    return create_app(config, client_factory(deployment, cls), endpoint_health(deployment))


def sse_data(response: http.client.HTTPResponse) -> Iterator[str]:
    """Each event's data as it arrives (one `data:` line per event, as the gateway writes)."""
    for raw in response:
        line = raw.decode().rstrip("\r\n")
        if line.startswith("data:"):
            yield line[5:].removeprefix(" ")


# -- the clients people use, and the endpoint they are compared with ----------------------------

PROMPT = "Write a haiku about the cloud"
UNICODE_PROMPT = "東京の桜と富士山 🌸🗻👩‍💻 — café, cafe\u0301, naïve, Ångström: "
"""CJK, emoji (a ZWJ sequence included), precomposed and combining accents."""
LONG_PROMPT = "The quick brown fox jumps over the lazy dog. " * 40
"""Several hundred tokens: `truncate` cuts it to its last N."""
TOO_LONG_PROMPT = "word " * 2500
"""More tokens than the endpoint's MAX_INPUT_TOKENS (2048), in fewer bytes than MAX_BODY."""


def endpoint_answer(deployment: Deployment, body: dict[str, object]) -> object:
    """The endpoint's own JSON answer to `body`, sent unchanged through InvokeEndpoint: the reference."""
    runtime = inference_endpoint(deployment.settings).client
    response = runtime.invoke_endpoint(
        EndpointName=deployment.settings.names.endpoint, Body=json.dumps(body), ContentType="application/json"
    )
    return json.loads(response["Body"].read())


def endpoint_events(deployment: Deployment, body: dict[str, object]) -> list[dict[str, object]]:
    """The endpoint's own stream events for `body` (sent unchanged), each event's JSON."""
    runtime = inference_endpoint(deployment.settings).client
    response = runtime.invoke_endpoint_with_response_stream(
        EndpointName=deployment.settings.names.endpoint,
        Body=json.dumps({**body, "stream": True}),
        ContentType="application/json",
    )
    raw = b"".join(event["PayloadPart"]["Bytes"] for event in response["Body"] if "PayloadPart" in event)
    events = []
    for line in raw.decode().splitlines():
        data = line.removeprefix("data:").strip() if line.startswith("data:") else ""
        if data and data != "[DONE]":
            events.append(json.loads(data))
    return events


class StreamBrokenAfterThreeParts(LLMInferenceSagemakerEndpoint):
    """The real endpoint, asked (through the emulator's CustomAttributes knob) to break every
    stream with SageMaker's ModelStreamError after its third PayloadPart."""

    def _arguments(self, payload):  # type: ignore[no-untyped-def]
        return {**super()._arguments(payload), "CustomAttributes": "llm-twin-fault=model_stream_error@3"}


class NoSuchEndpoint(LLMInferenceSagemakerEndpoint):
    """A client of an endpoint that does not exist: SageMaker refuses every call (no token spent)."""

    def __init__(self, endpoint_name: str, runtime_client, **options) -> None:  # type: ignore[no-untyped-def]
        super().__init__("llm-twin-no-such-endpoint", runtime_client, **options)
