"""The session's gateway, in front of the session's applied stack (helpers: tests/support/gateway.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from llm_twin.control.deploy.deployment import Deployment
from tests.support.gateway import Gateway, NoSuchEndpoint, StreamBrokenAfterThreeParts, gateway_app, serving


@pytest.fixture(scope="session")
def gateway(applied_stack: Deployment) -> Iterator[Gateway]:
    """One gateway for every test that does not need a special client."""
    with serving(gateway_app(applied_stack)) as running:
        yield running


@pytest.fixture(scope="session")
def faulty_gateway(applied_stack: Deployment) -> Iterator[Gateway]:
    """A gateway whose every stream from the endpoint breaks after three parts (SageMaker's ModelStreamError)."""
    with serving(gateway_app(applied_stack, StreamBrokenAfterThreeParts)) as running:
        yield running


@pytest.fixture(scope="session")
def endpointless_gateway(applied_stack: Deployment) -> Iterator[Gateway]:
    """A gateway in front of an endpoint name SageMaker does not know."""
    with serving(gateway_app(applied_stack, NoSuchEndpoint)) as running:
        yield running
