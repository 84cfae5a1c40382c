"""What `llm-twin status` shows: the endpoint as SageMaker sees it, next to what Terraform built."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llm_twin.control.aws import AlarmState, AwsClients, EndpointState
from llm_twin.control.deploy.rollouts import RolloutRecord


@dataclass(frozen=True)
class EndpointStatus:
    """What `llm-twin status` shows."""

    endpoint: EndpointState
    desired_config: str | None
    """Terraform's endpoint config; differs from endpoint.config_name after a rollback."""
    previous_config: str | None
    """The config that served before the last change `apply` made (SageMaker keeps no history)."""
    last_rollout: RolloutRecord | None
    alarms: tuple[AlarmState, ...]


def endpoint_status(
    endpoint: EndpointState, outputs: dict[str, Any], last: RolloutRecord | None, clients: AwsClients
) -> EndpointStatus:
    """Join SageMaker's view, the main stack's outputs, the last rollout and the alarms' states."""
    alarm_names = list(outputs.get("alarm_names") or endpoint.rollback_alarms)
    return EndpointStatus(
        endpoint=endpoint,
        desired_config=outputs.get("endpoint_config_name"),
        previous_config=last.previous_config if last is not None else None,
        last_rollout=last,
        alarms=tuple(clients.describe_alarms(alarm_names)),
    )
