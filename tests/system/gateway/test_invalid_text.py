"""Text that is not valid Unicode: refused 422 by the gateway itself, and relayed as 422 from the endpoint.

A JSON body may escape a lone surrogate ("\\ud800"), which decodes to a str no tokenizer
can encode. The gateway refuses it before any AWS call (its client factory here fails
the test if it is ever called). When such text reaches the endpoint anyway (a client
below the gateway that alters the payload), the model server's 422 is relayed as 422
with TGI's `validation` error type, not as a broken stream.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from llm_twin.client.endpoint import LLMInferenceSagemakerEndpoint
from llm_twin.config import Secret
from llm_twin.control.deploy.deployment import Deployment
from llm_twin.gateway import GatewayConfig, create_app
from tests.support.gateway import TOKEN, Gateway, gateway_app, serving

LONE = "Hello \ud800 world"
"""json.dumps writes it as the escape \\ud800: valid JSON, not valid Unicode."""
CHAT = {"messages": [{"role": "user", "content": LONE}], "max_tokens": 4}


def _no_endpoint():
    raise AssertionError("a request with invalid text reached the endpoint")


@pytest.fixture(scope="module")
def offline() -> Iterator[Gateway]:
    """A gateway with no endpoint behind it: whatever it answers, it answered by itself."""
    app = create_app(GatewayConfig(Secret(TOKEN), (), 4096), _no_endpoint, _no_endpoint)
    with serving(app) as gateway:
        yield gateway


@pytest.mark.parametrize(
    ("path", "body", "where"),
    [
        ("/generate_stream", {"inputs": LONE}, "inputs"),
        (
            "/generate_stream",
            {"inputs": "hi", "parameters": {"stop": ["ok", "\udfff"]}},
            "parameters.stop[1]",
        ),
        ("/v1/chat/completions", CHAT, "messages[0].content"),
        ("/v1/chat/completions", {**CHAT, "stream": True}, "messages[0].content"),
    ],
    ids=["inputs", "stop", "chat", "chat stream"],
)
def test_the_gateway_refuses_a_lone_surrogate_before_any_aws_call(
    offline: Gateway, path: str, body: dict, where: str
) -> None:
    response = offline.post(path, body, timeout=10)
    answer = json.loads(response.read())
    assert response.status == 422, answer
    if path.startswith("/v1/"):  # OpenAI's shape on the Messages API
        answer = {"error": answer["error"]["message"], "error_type": answer["error"]["code"]}
    assert answer["error_type"] == "validation"
    assert answer["error"].startswith(f"{where} holds a lone surrogate \\u")


class _SurrogateBelowTheGateway(LLMInferenceSagemakerEndpoint):
    """A client that puts a lone surrogate into what it sends, past the gateway's own check."""

    def _arguments(self, payload):
        if "messages" in payload:
            payload = {**payload, "messages": [{"role": "user", "content": LONE}]}
        else:
            payload = {**payload, "inputs": LONE}
        return super()._arguments(payload)


@pytest.fixture(scope="module")
def leaky(applied_stack: Deployment) -> Iterator[Gateway]:
    with serving(gateway_app(applied_stack, _SurrogateBelowTheGateway)) as gateway:
        yield gateway


@pytest.mark.stack
@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/generate_stream", {"inputs": "Hello", "parameters": {"max_new_tokens": 4}}),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "Hello"}], "max_tokens": 4}),
        (
            "/v1/chat/completions",
            {"messages": [{"role": "user", "content": "Hello"}], "max_tokens": 4, "stream": True},
        ),
    ],
    ids=["generate_stream", "chat", "chat stream"],
)
def test_the_endpoints_422_for_a_lone_surrogate_is_relayed_as_422(
    leaky: Gateway, path: str, body: dict
) -> None:
    response = leaky.post(path, body)
    answer = json.loads(response.read())
    assert response.status == 422, answer
    error_type = answer["error"]["code"] if isinstance(answer["error"], dict) else answer["error_type"]
    message = answer["error"]["message"] if isinstance(answer["error"], dict) else answer["error"]
    assert error_type == "validation" and "lone surrogate \\ud800" in message, answer
