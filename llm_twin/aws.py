"""boto3 transport: sessions per identity, caller identity, and endpoint waits.

Credentials are passed in explicitly, never read from the process environment
here, so the admin and deployer identities cannot be mixed up by accident.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from llm_twin.errors import AwsError, EndpointFailedError, EndpointNotFoundError


@dataclass(frozen=True)
class Credentials:
    """One AWS identity: keys, or a named profile (keys empty)."""

    access_key_id: str = ""
    secret_access_key: str = ""
    session_token: str = ""
    profile: str = ""

    def __repr__(self) -> str:
        return f"Credentials(access_key_id={self.access_key_id!r}, profile={self.profile!r})"

    def as_env(self) -> dict[str, str]:
        """Environment for a terraform child process running as this identity."""
        if self.profile and not self.access_key_id:
            return {"AWS_PROFILE": self.profile}
        # Every key is set, even empty, so nothing inherited from the caller's shell mixes in.
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_SESSION_TOKEN": self.session_token,
        }


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


class AwsClients:
    """Creates clients for one identity in one region, optionally against the emulator."""

    def __init__(self, credentials: Credentials, region: str, endpoint_url: str | None) -> None:
        if credentials.access_key_id:
            self.session = boto3.Session(
                aws_access_key_id=credentials.access_key_id,
                aws_secret_access_key=credentials.secret_access_key,
                aws_session_token=credentials.session_token or None,
                region_name=region,
            )
        else:
            self.session = boto3.Session(profile_name=credentials.profile or None, region_name=region)
        self.endpoint_url = endpoint_url

    def client(self, service: str, config: Config | None = None):
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
            if exc.response["Error"]["Code"] == "ValidationException" and "not find" in str(exc).lower():
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
        )

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
