"""GET /health over a real uvicorn: the endpoint's health, as the gateway is handed it.

The gateway knows no deployment: `create_app` gets a callable returning `EndpointHealth`,
so each answer here comes from a stand-in callable, and no request reaches AWS.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from llm_twin.config import Secret
from llm_twin.errors import EndpointNotFoundError
from llm_twin.gateway import EndpointHealth, GatewayConfig, create_app
from tests.support.gateway import TOKEN, serving


def _no_client():
    raise AssertionError("GET /health never builds an inference client")


def _health(source: Callable[[], EndpointHealth]) -> tuple[int, dict]:
    app = create_app(GatewayConfig(Secret(TOKEN), (), 4096), _no_client, source)
    with serving(app) as gateway:
        connection = gateway.connection(timeout=10)
        connection.request("GET", "/health")
        response = connection.getresponse()
        return response.status, json.loads(response.read())


def test_in_service_is_ok() -> None:
    assert _health(lambda: EndpointHealth("twin", "InService")) == (
        200,
        {"status": "ok", "endpoint": "twin", "endpoint_status": "InService"},
    )


@pytest.mark.parametrize(
    ("health", "body"),
    [
        (
            EndpointHealth("twin", "Failed", "the container exited"),
            {
                "status": "unavailable",
                "endpoint": "twin",
                "endpoint_status": "Failed",
                "failure_reason": "the container exited",
            },
        ),
        (
            EndpointHealth("twin", "Updating"),
            {"status": "unavailable", "endpoint": "twin", "endpoint_status": "Updating"},
        ),
    ],
    ids=["failed", "updating"],
)
def test_anything_else_is_503_with_what_sagemaker_said(health: EndpointHealth, body: dict) -> None:
    assert _health(lambda: health) == (503, body)


def test_an_error_looking_it_up_is_503_naming_it() -> None:
    def missing() -> EndpointHealth:
        raise EndpointNotFoundError("no endpoint named 'twin'")

    assert _health(missing) == (
        503,
        {"status": "unavailable", "error": "EndpointNotFoundError: no endpoint named 'twin'"},
    )
