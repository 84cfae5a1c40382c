"""Our emulator layer: the gaps in moto that stop the real aws provider, closed at run time.

Each patch is one function with the reason it exists, registered in `registry.PATCHES`
(which applies each once per process, so tests and the server can both call `apply_all`).
The other modules that patch moto are imported here so that their patches are registered.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import TypedDict

from moto import backends as moto_backends
from moto.applicationautoscaling import models as aas_models
from moto.applicationautoscaling import responses as aas_responses
from moto.core.common_types import TYPE_RESPONSE
from moto.core.exceptions import JsonRESTError
from moto.core.responses import ActionResult
from moto.s3 import responses as s3_responses
from moto.sagemaker import models as sm_models
from moto.sagemaker import responses as sm_responses
from moto.sagemaker.exceptions import ValidationError as SageMakerValidationError

from llm_twin_local.aws import authz, conditional, multipart, quotas, secure_transport  # noqa: F401
from llm_twin_local.aws.authz_checks import target_tags
from llm_twin_local.aws.registry import PATCHES

# SageMaker real-time hosting families (2026). moto's own list stops at g4dn, so the
# book's ml.g5.2xlarge is rejected; anything of the shape ml.<family>.<size> with a
# family here is accepted, and typos still fail the way AWS fails them.
HOSTING_FAMILIES = frozenset(
    [
        "t2",
        "t3",
        "m4",
        "m5",
        "m5d",
        "m6i",
        "m6id",
        "m7i",
        "c4",
        "c5",
        "c5d",
        "c6i",
        "c6id",
        "c7i",
        "r5",
        "r5d",
        "r6i",
        "r6id",
        "r7i",
        "p2",
        "p3",
        "p4d",
        "p4de",
        "p5",
        "p5e",
        "p5en",
        "g4dn",
        "g5",
        "g6",
        "g6e",
        "gr6",
        "inf1",
        "inf2",
        "trn1",
        "trn1n",
        "trn2",
    ]
)
HOSTING_SIZES = re.compile(r"^(medium|large|xlarge|\d+xlarge|48xlarge|metal)$")


def valid_hosting_instance_type(instance_type: str) -> bool:
    """True for `ml.<family>.<size>` with a real hosting family, e.g. ml.g5.2xlarge."""
    parts = instance_type.split(".")
    return (
        len(parts) == 3
        and parts[0] == "ml"
        and parts[1] in HOSTING_FAMILIES
        and bool(HOSTING_SIZES.match(parts[2]))
    )


@PATCHES.once("sagemaker.hosting_instance_types")
def _patch_hosting_instance_types() -> None:
    """Accept today's GPU hosting types (g5, g6, p5, inf2...) in endpoint configs."""

    def validate_instance_type(self: sm_models.FakeEndpointConfig, instance_type: str) -> None:
        if not valid_hosting_instance_type(instance_type):
            raise SageMakerValidationError(
                message=f"Value '{instance_type}' at 'instanceType' failed to satisfy constraint: "
                f"Member must be a SageMaker hosting instance type such as ml.g5.2xlarge"
            )

    sm_models.FakeEndpointConfig.validate_instance_type = validate_instance_type


def _find_target(
    backend: aas_models.ApplicationAutoscalingBackend, arn: str
) -> aas_models.FakeScalableTarget:
    for targets in backend.targets.values():
        for target in targets.values():
            if target.arn == arn:
                return target
    raise JsonRESTError("ResourceNotFoundException", f"No scalable target found for resource ARN {arn}")


@PATCHES.once("applicationautoscaling.tags")
def _patch_autoscaling_tags() -> None:
    """Application Auto Scaling tagging: without it aws_appautoscaling_target retries forever."""
    cls = aas_responses.ApplicationAutoScalingResponse
    register = cls.register_scalable_target
    deregister = aas_models.ApplicationAutoscalingBackend.deregister_scalable_target

    def register_scalable_target(self: aas_responses.ApplicationAutoScalingResponse) -> str:
        body = register(self)
        tags = self._get_param("Tags")
        if tags:
            arn = json.loads(body)["ScalableTargetARN"]
            target_tags(self.applicationautoscaling_backend).setdefault(arn, {}).update(tags)
        return body

    def deregister_scalable_target(
        self: aas_models.ApplicationAutoscalingBackend, namespace: str, r_id: str, dimension: str
    ) -> None:
        target = self.targets.get(dimension, {}).get(r_id)
        deregister(self, namespace, r_id, dimension)
        if target is not None:
            target_tags(self).pop(target.arn, None)

    def list_tags_for_resource(self: aas_responses.ApplicationAutoScalingResponse) -> str:
        backend = self.applicationautoscaling_backend
        arn = self._get_param("ResourceARN")
        _find_target(backend, arn)
        return json.dumps({"Tags": target_tags(backend).get(arn, {})})

    def tag_resource(self: aas_responses.ApplicationAutoScalingResponse) -> str:
        backend = self.applicationautoscaling_backend
        arn = self._get_param("ResourceARN")
        _find_target(backend, arn)
        target_tags(backend).setdefault(arn, {}).update(self._get_param("Tags") or {})
        return "{}"

    def untag_resource(self: aas_responses.ApplicationAutoScalingResponse) -> str:
        backend = self.applicationautoscaling_backend
        arn = self._get_param("ResourceARN")
        _find_target(backend, arn)
        tags = target_tags(backend).setdefault(arn, {})
        for key in self._get_param("TagKeys") or []:
            tags.pop(key, None)
        return "{}"

    cls.register_scalable_target = register_scalable_target
    # Actions moto does not have: added to its response class, by name.
    for name, action in (
        ("list_tags_for_resource", list_tags_for_resource),
        ("tag_resource", tag_resource),
        ("untag_resource", untag_resource),
    ):
        setattr(cls, name, action)
    aas_models.ApplicationAutoscalingBackend.deregister_scalable_target = deregister_scalable_target


def _is_empty(value: object) -> bool:
    """{} or a block whose members are all empty, as moto echoes omitted blocks."""
    if isinstance(value, dict):
        return all(_is_empty(v) for v in value.values())
    return value in (None, [], "")


@PATCHES.once("sagemaker.empty_blocks")
def _patch_sagemaker_empty_blocks() -> None:
    """Omit blocks the caller never set from SageMaker describe calls, as AWS does.

    moto echoes `DataCaptureConfig: {}` and `VpcConfig: {...: []}`; the provider reads
    them as configured blocks and the next plan replaces the model and endpoint config.
    Only the wire response is trimmed: moto's own code still reads the full dicts.
    """
    cls = sm_responses.SageMakerResponse
    for action, keys in (
        ("describe_model", ("VpcConfig",)),
        ("describe_endpoint_config", ("DataCaptureConfig", "AsyncInferenceConfig")),
    ):
        original = getattr(cls, action)

        def describe(
            self: sm_responses.SageMakerResponse,
            _original: Callable[[sm_responses.SageMakerResponse], ActionResult] = original,
            _keys: tuple[str, ...] = keys,
        ) -> ActionResult:
            body = dict(_body(_original(self)))
            for key in _keys:
                if key in body and _is_empty(body[key]):
                    del body[key]
            return ActionResult(body)

        setattr(cls, action, describe)


DEPLOYMENT_CONFIG_ATTRIBUTE = "llm_twin_last_deployment_config"
"""Where the endpoint keeps the DeploymentConfig of its last CreateEndpoint/UpdateEndpoint."""


def _body(result: ActionResult) -> Mapping[str, object]:
    """The body of a moto describe answer: always a dict, though moto types a result `object`."""
    body = result.result
    if not isinstance(body, Mapping):
        raise TypeError(f"moto answered a describe call with {type(body).__name__}, not a dict")
    return body


class TrafficRoutingConfiguration(TypedDict, total=False):
    """How a blue/green update shifts traffic (SageMaker's shape; the emulator bakes it as one step)."""

    Type: str
    WaitIntervalInSeconds: int
    CanarySize: dict[str, object]
    LinearStepSize: dict[str, object]


class BlueGreenUpdatePolicy(TypedDict, total=False):
    TrafficRoutingConfiguration: TrafficRoutingConfiguration
    TerminationWaitInSeconds: int
    MaximumExecutionTimeoutInSeconds: int


class RollbackAlarm(TypedDict, total=False):
    AlarmName: str


class AutoRollbackConfiguration(TypedDict, total=False):
    Alarms: list[RollbackAlarm]


class DeploymentConfig(TypedDict, total=False):
    """A CreateEndpoint/UpdateEndpoint DeploymentConfig as botocore sent it (the parts the emulator reads)."""

    BlueGreenUpdatePolicy: BlueGreenUpdatePolicy
    RollingUpdatePolicy: dict[str, object]
    AutoRollbackConfiguration: AutoRollbackConfiguration


def record_deployment_config(endpoint: sm_models.FakeEndpoint, config: DeploymentConfig | None) -> None:
    """Keep the call's DeploymentConfig (None clears it), as AWS shows it in LastDeploymentConfig."""
    setattr(endpoint, DEPLOYMENT_CONFIG_ATTRIBUTE, config or None)


def last_deployment_config(endpoint: sm_models.FakeEndpoint) -> DeploymentConfig | None:
    config: DeploymentConfig | None = getattr(endpoint, DEPLOYMENT_CONFIG_ATTRIBUTE, None)
    return config


@PATCHES.once("sagemaker.deployment_config")
def _patch_sagemaker_deployment_config() -> None:
    """Keep an endpoint's DeploymentConfig and show it as LastDeploymentConfig.

    moto drops it, so the provider reads no deployment_config back and every plan after an
    apply would add it again. UpdateEndpoint records it in `llm_twin_local.aws.runtime.hooks`.
    """
    cls = sm_responses.SageMakerResponse
    create = cls.create_endpoint
    describe = cls.describe_endpoint

    def create_endpoint(self: sm_responses.SageMakerResponse) -> ActionResult:
        result = create(self)
        endpoint = self.sagemaker_backend.endpoints.get(self._get_param("EndpointName"))
        if endpoint is not None:
            record_deployment_config(endpoint, self._get_param("DeploymentConfig"))
        return result

    def describe_endpoint(self: sm_responses.SageMakerResponse) -> ActionResult:
        result = describe(self)
        endpoint = self.sagemaker_backend.endpoints.get(self._get_param("EndpointName"))
        config = last_deployment_config(endpoint) if endpoint is not None else None
        if config is None:
            return result
        return ActionResult({**_body(result), "LastDeploymentConfig": config})

    cls.create_endpoint = create_endpoint
    cls.describe_endpoint = describe_endpoint


@PATCHES.once("s3.eventbridge_notification")
def _patch_s3_eventbridge_notification() -> None:
    """Show a bucket's EventBridge notification in GetBucketNotificationConfiguration.

    moto stores `EventBridgeConfiguration` but leaves it out of the response, so the
    provider reads `eventbridge = false` back and every plan after an apply turns it on again.
    """
    cls = s3_responses.S3Response
    original = cls.get_bucket_notification

    def get_bucket_notification(self: s3_responses.S3Response) -> TYPE_RESPONSE:
        config = self.backend.get_bucket_notification_configuration(self.bucket_name)
        if config is None or config.event_bridge is None:
            return original(self)
        serialize = self.serialized

        def with_eventbridge(action_result: ActionResult) -> TYPE_RESPONSE:
            return serialize(ActionResult({**_body(action_result), "EventBridgeConfiguration": {}}))

        self.serialized = with_eventbridge  # this request's response object only
        try:
            return original(self)
        finally:
            del self.serialized

    cls.get_bucket_notification = get_bucket_notification


@PATCHES.once("core.backend_lookup")
def _patch_backend_lookup() -> None:
    """Read moto's list of service modules once, not on every request.

    To route a request by its Host header, moto lists its package directory and calls
    `isdir` on each of its ~150 entries, per request: about a third of the emulator's CPU
    for a HeadObject (py-spy). The installed package does not change while it runs.
    """
    modules = tuple(moto_backends.list_of_moto_modules())
    moto_backends.list_of_moto_modules = lambda: modules


def apply_all() -> None:
    """Apply every patch (each once per process); IAM enforcement only when the environment asks."""
    PATCHES.apply_all()
    authz.apply_if_requested()
