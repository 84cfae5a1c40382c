"""What `llm-twin status` shows: the endpoint as SageMaker sees it, next to what Terraform built."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from llm_twin.control.aws import AlarmState, AwsClients, EndpointState
from llm_twin.control.deploy.rollouts import RolloutRecord


@dataclass(frozen=True)
class ServingBackend:
    """Which container a variant of the serving config runs, read from its SageMaker model."""

    variant: str
    model_name: str
    backend: str
    """tgi or vllm, from the container's own environment; "unknown" when neither is recognised,
    "unreadable" when SageMaker would not describe the model."""
    image: str = ""


def backend_of(environment: Mapping[str, str], image: str) -> str:
    """The serving backend a container environment (or, failing that, its image) says it is.

    The environment decides first: SM_VLLM_MODEL is what the vLLM container reads, HF_MODEL_ID what
    TGI's launcher reads (the local runtime tells the two apart the same way). An explicit image
    override can be any repository, so its name is only the fallback.
    """
    if "SM_VLLM_MODEL" in environment:
        return "vllm"
    if "HF_MODEL_ID" in environment:
        return "tgi"
    repository = image.rsplit("/", 1)[-1].split(":", 1)[0]
    if "vllm" in repository:
        return "vllm"
    if "tgi" in repository:
        return "tgi"
    return "unknown"


def serving_backends(clients: AwsClients, config_name: str) -> tuple[ServingBackend, ...]:
    """The backend of each variant of `config_name`: the deployed models, not today's settings."""
    sagemaker = clients.client("sagemaker")
    try:
        config = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
    except (ClientError, BotoCoreError):
        return ()
    found = []
    for variant in config.get("ProductionVariants", []):
        name = variant.get("ModelName", "")
        try:
            container = sagemaker.describe_model(ModelName=name).get("PrimaryContainer", {})
        except (ClientError, BotoCoreError):
            found.append(ServingBackend(variant.get("VariantName", ""), name, "unreadable"))
            continue
        image = container.get("Image", "")
        backend = backend_of(container.get("Environment") or {}, image)
        found.append(ServingBackend(variant.get("VariantName", ""), name, backend, image))
    return tuple(found)


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
    backends: tuple[ServingBackend, ...] = ()
    """The container each variant of the serving config runs."""


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
        backends=serving_backends(clients, endpoint.config_name),
    )
