"""boto3 transport: sessions per identity, caller identity, and endpoint waits.

Credentials are passed in explicitly, never read from the process environment
here, so the admin and deployer identities cannot be mixed up by accident.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from llm_twin.config.credentials import Credentials
from llm_twin.errors import AwsError, EndpointFailedError, EndpointNotFoundError


@dataclass(frozen=True)
class Identity:
    """Who a set of credentials is, as STS says."""

    account: str
    arn: str


@dataclass(frozen=True)
class EndpointState:
    """The parts of DescribeEndpoint people act on."""

    name: str
    status: str
    config_name: str
    failure_reason: str | None
    instance_counts: dict[str, int]
    resolved_images: tuple[str, ...] = ()
    """What serves each variant (DeployedImages); the local emulator names its stand-in model here."""
    desired_instance_counts: dict[str, int] = field(default_factory=dict)
    """DesiredInstanceCount per variant: where autoscaling or an update is taking it."""
    rollout: str | None = None
    """How the last update shifted traffic (LastDeploymentConfig), e.g. "blue/green CANARY 10%"; None without one."""
    rollback_alarms: tuple[str, ...] = ()
    """Alarms that roll an update back (LastDeploymentConfig.AutoRollbackConfiguration)."""
    async_output_s3_uri: str | None = None
    """Where async inference writes results (the serving config's AsyncInferenceConfig); None when off."""


@dataclass(frozen=True)
class AlarmState:
    """One CloudWatch alarm as DescribeAlarms shows it."""

    name: str
    state: str
    """OK, ALARM, INSUFFICIENT_DATA, or MISSING when no alarm has that name."""
    metric: str = ""
    """The metric and statistic watched, e.g. "ModelLatency p99"."""
    reason: str = ""


def _rollout(config: dict[str, Any] | None) -> str | None:
    """LastDeploymentConfig in a few words: the strategy and its step size."""
    routing = ((config or {}).get("BlueGreenUpdatePolicy") or {}).get("TrafficRoutingConfiguration")
    if not routing:
        return None
    kind = routing.get("Type", "")
    size = routing.get("CanarySize") or routing.get("LinearStepSize")
    if size:
        unit = "%" if size.get("Type") == "CAPACITY_PERCENT" else " instances"
        return f"blue/green {kind} {size.get('Value')}{unit} every {routing.get('WaitIntervalInSeconds', 0)}s"
    return f"blue/green {kind}, baking {routing.get('WaitIntervalInSeconds', 0)}s"


class AwsClients:
    """Creates clients for one identity in one region, optionally against the emulator."""

    def __init__(self, credentials: Credentials, region: str, endpoint_url: str | None) -> None:
        self.session = boto3.Session(**credentials.session_arguments(), region_name=region)
        self.endpoint_url = endpoint_url

    def client(self, service: str, config: Config | None = None) -> Any:
        return self.session.client(service, endpoint_url=self.endpoint_url, config=config)

    def identity(self) -> Identity:
        """STS GetCallerIdentity; AwsError when the credentials are not accepted."""
        try:
            answer = self.client("sts").get_caller_identity()
        except (ClientError, BotoCoreError) as exc:
            raise AwsError(f"could not identify the caller with STS: {exc}") from exc
        return Identity(account=answer["Account"], arn=answer["Arn"])

    def describe_endpoint(self, name: str) -> EndpointState:
        try:
            answer = self.client("sagemaker").describe_endpoint(EndpointName=name)
        except ClientError as exc:
            # DescribeEndpoint takes only the name: its ValidationException is "Could not find
            # endpoint" (SageMaker has no ResourceNotFound code for it), so the code alone decides.
            if exc.response.get("Error", {}).get("Code") == "ValidationException":
                raise EndpointNotFoundError(f"no endpoint named {name!r}") from exc
            raise AwsError(f"DescribeEndpoint {name!r} failed: {exc}") from exc
        return EndpointState(
            name=answer["EndpointName"],
            status=answer["EndpointStatus"],
            config_name=answer["EndpointConfigName"],
            failure_reason=answer.get("FailureReason"),
            instance_counts={
                v["VariantName"]: int(v.get("CurrentInstanceCount", 0))
                for v in answer.get("ProductionVariants", [])
            },
            resolved_images=tuple(
                image.get("ResolvedImage", "")
                for v in answer.get("ProductionVariants", [])
                for image in v.get("DeployedImages", [])
            ),
            desired_instance_counts={
                v["VariantName"]: int(v["DesiredInstanceCount"])
                for v in answer.get("ProductionVariants", [])
                if "DesiredInstanceCount" in v
            },
            rollout=_rollout(answer.get("LastDeploymentConfig")),
            rollback_alarms=tuple(
                alarm["AlarmName"]
                for alarm in (answer.get("LastDeploymentConfig") or {})
                .get("AutoRollbackConfiguration", {})
                .get("Alarms", [])
            ),
            async_output_s3_uri=self._async_output(answer["EndpointConfigName"]),
        )

    def _async_output(self, config_name: str) -> str | None:
        """The config's async output path; None when it has none, or is gone (Terraform deletes
        a replaced config even when an update rolled back and the endpoint still runs it)."""
        try:
            config = self.client("sagemaker").describe_endpoint_config(EndpointConfigName=config_name)
        except ClientError:
            return None
        path: str | None = (
            (config.get("AsyncInferenceConfig") or {}).get("OutputConfig", {}).get("S3OutputPath")
        )
        return path

    def describe_alarms(self, names: list[str]) -> list[AlarmState]:
        """State of each named alarm, in the order given; a name CloudWatch does not know is MISSING."""
        if not names:
            return []
        try:
            answer = self.client("cloudwatch").describe_alarms(AlarmNames=names, AlarmTypes=["MetricAlarm"])
        except (ClientError, BotoCoreError) as exc:
            raise AwsError(f"DescribeAlarms failed: {exc}") from exc
        found = {alarm["AlarmName"]: alarm for alarm in answer.get("MetricAlarms", [])}
        states = []
        for name in names:
            alarm = found.get(name)
            if alarm is None:
                states.append(AlarmState(name=name, state="MISSING"))
                continue
            statistic = alarm.get("ExtendedStatistic") or alarm.get("Statistic") or ""
            states.append(
                AlarmState(
                    name=name,
                    state=alarm["StateValue"],
                    metric=f"{alarm.get('MetricName', '')} {statistic}".strip(),
                    reason=alarm.get("StateReason", ""),
                )
            )
        return states

    def wait_in_service(
        self,
        name: str,
        *,
        timeout: float,
        poll: float = 2.0,
        on_status: Callable[[EndpointState], None] | None = None,
    ) -> EndpointState:
        """Poll until InService; EndpointFailedError carries SageMaker's FailureReason."""
        deadline = time.monotonic() + timeout
        last_status = None
        while True:
            state = self.describe_endpoint(name)
            if state.status != last_status and on_status is not None:
                on_status(state)
            last_status = state.status
            if state.status == "InService":
                return state
            if state.status == "Failed":
                raise EndpointFailedError(
                    f"endpoint {name!r} failed: {state.failure_reason or 'no reason given'}"
                )
            if time.monotonic() > deadline:
                raise AwsError(f"endpoint {name!r} still {state.status} after {timeout:.0f}s")
            time.sleep(poll)
