"""`llm-twin serve`'s side of the gateway: the endpoint's state handed over as the gateway's health."""

from __future__ import annotations

from llm_twin.cli.serve import endpoint_health
from llm_twin.control.aws import EndpointState
from llm_twin.gateway import EndpointHealth


class _Deployment:
    """Answers DescribeEndpoint as a deployment would, counting the calls."""

    def __init__(self, state: EndpointState) -> None:
        self.state = state
        self.calls = 0

    def endpoint_state(self) -> EndpointState:
        self.calls += 1
        return self.state


def test_health_is_described_per_call_and_keeps_what_the_gateway_shows() -> None:
    state = EndpointState("twin", "Failed", "twin-config-1", "the container exited", {"AllTraffic": 1})
    deployment = _Deployment(state)
    health = endpoint_health(deployment)  # type: ignore[arg-type]
    assert deployment.calls == 0  # nothing is asked before a request comes
    assert health() == EndpointHealth("twin", "Failed", "the container exited")
    assert health() == health() and deployment.calls == 3
