"""What an update's DeploymentConfig asks for: a blue/green bake, and the alarms that roll it back.

Canary and linear shifts are baked as one step locally, for WaitIntervalInSeconds capped
at LLM_TWIN_BAKE_CAP_SECONDS (default 5, read per update), so local updates stay quick.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from llm_twin_local.aws import knobs, patches
from llm_twin_local.aws.patches import (
    AutoRollbackConfiguration,
    BlueGreenUpdatePolicy,
    DeploymentConfig,
    TrafficRoutingConfiguration,
)

if TYPE_CHECKING:
    from moto.sagemaker.models import FakeEndpoint, SageMakerModelBackend

BAKE_CAP_ENV = "LLM_TWIN_BAKE_CAP_SECONDS"
DEFAULT_BAKE_CAP_SECONDS = 5.0


@dataclass(frozen=True)
class Rollout:
    """An update's blue/green traffic routing and its rollback alarms."""

    routing: TrafficRoutingConfiguration
    """TrafficRoutingConfiguration; {} without blue/green."""
    alarms: list[str]
    """The rollback alarms' names."""

    @classmethod
    def of(cls, endpoint: FakeEndpoint) -> Rollout:
        """The rollout of the endpoint's last CreateEndpoint / UpdateEndpoint call."""
        config: DeploymentConfig = patches.last_deployment_config(endpoint) or {}
        policy: BlueGreenUpdatePolicy = config.get("BlueGreenUpdatePolicy") or {}
        routing: TrafficRoutingConfiguration = policy.get("TrafficRoutingConfiguration") or {}
        rollback_config: AutoRollbackConfiguration = config.get("AutoRollbackConfiguration") or {}
        rollback = rollback_config.get("Alarms", [])
        return cls(routing, [a["AlarmName"] for a in rollback if a.get("AlarmName")])

    def bake_seconds(self, environ: Mapping[str, str]) -> float:
        """How long the new fleet bakes here: the wait interval, capped; 0 without blue/green."""
        if not self.routing:
            return 0.0
        return min(float(self.routing.get("WaitIntervalInSeconds") or 0), bake_cap(environ))

    def phrase(self) -> str:
        """How the update was rolled out, for the FailureReason of a rollback ('' without blue/green)."""
        if not self.routing:
            return ""
        watched = f"; rollback alarms: {', '.join(self.alarms)}" if self.alarms else ""
        return f" (blue/green {self.routing.get('Type', 'ALL_AT_ONCE')}{watched})"


def bake_cap(environ: Mapping[str, str]) -> float:
    cap = knobs.number(environ, BAKE_CAP_ENV, float)
    return DEFAULT_BAKE_CAP_SECONDS if cap is None else cap


def alarm_state(backend: SageMakerModelBackend, name: str) -> str | None:
    """A CloudWatch alarm's state in the endpoint's account and region; None when it does not exist."""
    from moto.cloudwatch.models import cloudwatch_backends

    alarm = cloudwatch_backends[backend.account_id][backend.region_name].alarms.get(name)
    return alarm.state_value if alarm is not None else None
