"""The checks AWS makes for a request: the action, the real ARN, the keys AWS supplies.

moto authorizes JSON-protocol calls against resource `*`; these functions name what
AWS names instead: every model, endpoint-config, endpoint, repository, scalable target
and alarm a request acts on, with the condition values the emulator knows (request
tags, the resource's own tags, iam:PassedToService, the autoscaling namespace and
dimension). Each context then passes through `iam_context.restrict`, which keeps only
the keys AWS's table lists for that action on that resource type.

Not modelled: aws:TagKeys (multi-valued), and the tags of resources the emulator keeps
no tags for.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from llm_twin_local.aws import iam_context
from llm_twin_local.aws.iam_policy import Check

if TYPE_CHECKING:
    from moto.applicationautoscaling.models import ApplicationAutoscalingBackend
    from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse
    from moto.cloudwatch.responses import CloudWatchResponse
    from moto.core.responses import BaseResponse
    from moto.ecr.responses import ECRResponse
    from moto.sagemaker.models import SageMakerModelBackend
    from moto.sagemaker.responses import SageMakerResponse
    from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

TARGET_TAGS_ATTRIBUTE = "_llm_twin_target_tags"
"""Where the emulator keeps scalable-target tags on moto's backend (moto keeps none)."""


def target_tags(backend: ApplicationAutoscalingBackend) -> dict[str, dict[str, str]]:
    """Tags by scalable-target ARN, kept on the backend so they live and die with it."""
    tags: dict[str, dict[str, str]] = backend.__dict__.setdefault(TARGET_TAGS_ATTRIBUTE, {})
    return tags


def _check(action: str, resource: str, context: Mapping[str, str] | None = None) -> Check:
    return Check(action, resource, iam_context.restrict(action, resource, context or {}))


def _tag_context(kind: str, tags: Mapping[str, str]) -> dict[str, str]:
    """aws:RequestTag/<key> or aws:ResourceTag/<key> for each tag."""
    return {f"aws:{kind}/{key}": value for key, value in tags.items()}


def _tag_dict(tags: object) -> dict[str, str]:
    """Tags as AWS APIs send them: a [{Key, Value}] list or a {key: value} map (else none)."""
    if isinstance(tags, Mapping):
        return {str(k): str(v) for k, v in tags.items()}
    if not isinstance(tags, Iterable):
        return {}
    return {t["Key"]: t.get("Value", "") for t in tags if isinstance(t, Mapping) and "Key" in t}


def _arn(response: BaseResponse, service: str, resource: str) -> str:
    from moto.utilities.utils import get_partition

    partition = get_partition(response.region)
    return f"arn:{partition}:{service}:{response.region}:{response.current_account}:{resource}"


# -- SageMaker -----------------------------------------------------------------------

# Every name a SageMaker request carries is a resource AWS authorizes it on: CreateEndpoint
# and UpdateEndpoint, for instance, act on the endpoint and on the config they name.
SAGEMAKER_RESOURCES = (
    ("model", "ModelName"),
    ("endpoint-config", "EndpointConfigName"),
    ("endpoint", "EndpointName"),
)
SAGEMAKER_RESOURCES_BY_KIND = dict(SAGEMAKER_RESOURCES)
SAGEMAKER_CREATES = {
    "CreateModel": "model",
    "CreateEndpointConfig": "endpoint-config",
    "CreateEndpoint": "endpoint",
}
SAGEMAKER_EXECUTION_SERVICE = "sagemaker.amazonaws.com"


def _sagemaker_tags(backend: SageMakerModelBackend, kind: str, name: str) -> dict[str, str]:
    """The tags of an existing model, endpoint config or endpoint (empty when there is none)."""
    stores: dict[str, Mapping[str, object]] = {
        "model": backend._models,
        "endpoint-config": backend.endpoint_configs,
        "endpoint": backend.endpoints,
    }
    store = stores.get(kind, {})
    found = store.get(name) or next((v for k, v in store.items() if k.lower() == name.lower()), None)
    return _tag_dict(getattr(found, "tags", None))


def _sagemaker_arn_tags(backend: SageMakerModelBackend, arn: str) -> dict[str, str]:
    kind, _, name = arn.rpartition(":")[2].partition("/")
    return _sagemaker_tags(backend, kind, name)


def sagemaker_checks(response: SageMakerResponse) -> list[Check]:
    action = response._get_action()
    name = f"sagemaker:{action}"
    backend = response.sagemaker_backend
    requested = _tag_context("RequestTag", _tag_dict(response._get_param("Tags")))
    if action in ("AddTags", "DeleteTags", "ListTags"):
        arn = response._get_param("ResourceArn") or "*"
        existing = _tag_context("ResourceTag", _sagemaker_arn_tags(backend, arn))
        return [_check(name, arn, {**existing, **requested})]
    checks = []
    for kind, param in SAGEMAKER_RESOURCES:
        value = response._get_param(param)
        if isinstance(value, str) and value:
            # SageMaker lower-cases names in its ARNs.
            arn = _arn(response, "sagemaker", f"{kind}/{value.lower()}")
            existing = _tag_context("ResourceTag", _sagemaker_tags(backend, kind, value))
            checks.append(_check(name, arn, {**existing, **requested}))
    created = SAGEMAKER_CREATES.get(action)
    if created and requested:
        # SageMaker authorizes a Create* call's tags as a second action, sagemaker:AddTags.
        created_name = str(response._get_param(SAGEMAKER_RESOURCES_BY_KIND[created]) or "")
        arn = _arn(response, "sagemaker", f"{created}/{created_name.lower()}")
        checks.append(_check("sagemaker:AddTags", arn, {**requested, "sagemaker:TaggingAction": action}))
    role = response._get_param("ExecutionRoleArn") if action == "CreateModel" else None
    if role:
        checks.append(_check("iam:PassRole", role, {"iam:PassedToService": SAGEMAKER_EXECUTION_SERVICE}))
    return checks or [Check(name, "*")]


RUNTIME_ACTIONS = {
    "invocations": "InvokeEndpoint",
    "async-invocations": "InvokeEndpointAsync",
    "invocations-response-stream": "InvokeEndpointWithResponseStream",
}


def invocation_check(account_id: str, region: str, endpoint_name: str, kind: str) -> Check:
    """The check AWS makes for /endpoints/<endpoint_name>/<kind>: the action on the endpoint's ARN."""
    from moto.sagemaker.models import sagemaker_backends
    from moto.utilities.utils import get_partition

    resource = f"arn:{get_partition(region)}:sagemaker:{region}:{account_id}:endpoint/{endpoint_name.lower()}"
    tags = _sagemaker_tags(sagemaker_backends[account_id][region], "endpoint", endpoint_name)
    return _check(f"sagemaker:{RUNTIME_ACTIONS[kind]}", resource, _tag_context("ResourceTag", tags))


def sagemaker_runtime_checks(response: SageMakerRuntimeResponse) -> list[Check]:
    # /endpoints/<name>/<invocations|async-invocations|invocations-response-stream>
    parts = response.path.split("?")[0].strip("/").split("/")
    if len(parts) == 3 and parts[0] == "endpoints" and parts[2] in RUNTIME_ACTIONS:
        return [invocation_check(response.current_account, response.region, parts[1], parts[2])]
    return [Check(f"sagemaker:{response._get_action()}", "*")]


# -- ECR -----------------------------------------------------------------------------


def ecr_checks(response: ECRResponse) -> list[Check]:
    action = response._get_action()
    name = f"ecr:{action}"
    if action in ("ListTagsForResource", "TagResource", "UntagResource"):
        return [_check(name, response._get_param("resourceArn") or "*")]
    if action == "GetAuthorizationToken":
        return [Check(name, "*")]
    account = response._get_param("registryId") or response.current_account
    names = response._get_param("repositoryNames") or [response._get_param("repositoryName") or "*"]
    from moto.utilities.utils import get_partition

    prefix = f"arn:{get_partition(response.region)}:ecr:{response.region}:{account}:repository"
    requested = _tag_context("RequestTag", _tag_dict(response._get_param("tags")))
    return [_check(name, f"{prefix}/{repo}", requested) for repo in names]


# -- Application Auto Scaling --------------------------------------------------------


def autoscaling_checks(response: ApplicationAutoScalingResponse) -> list[Check]:
    action = response._get_action()
    name = f"application-autoscaling:{action}"
    if action.startswith("Describe"):
        return [Check(name, "*")]
    backend = response.applicationautoscaling_backend
    if action in ("ListTagsForResource", "TagResource", "UntagResource"):
        arn = response._get_param("ResourceARN") or "*"
        target = next((t for ts in backend.targets.values() for t in ts.values() if t.arn == arn), None)
    else:
        dimension = response._get_param("ScalableDimension")
        target = backend.targets.get(dimension, {}).get(response._get_param("ResourceId"))
        # A target not registered yet has no ARN: its id is generated on creation.
        arn = (
            target.arn
            if target is not None
            else _arn(response, "application-autoscaling", "scalable-target/*")
        )
    context = _tag_context("RequestTag", _tag_dict(response._get_param("Tags")))
    if target is not None:
        context.update(_tag_context("ResourceTag", target_tags(backend).get(target.arn, {})))
    namespace = target.service_namespace if target is not None else response._get_param("ServiceNamespace")
    dimension = target.scalable_dimension if target is not None else response._get_param("ScalableDimension")
    if namespace:
        context["application-autoscaling:service-namespace"] = namespace
    if dimension:
        context["application-autoscaling:scalable-dimension"] = dimension
    return [_check(name, arn, context)]


# -- CloudWatch ----------------------------------------------------------------------


def cloudwatch_checks(response: CloudWatchResponse) -> list[Check]:
    action = response._get_action()
    # CloudWatch signs as "monitoring", but its IAM prefix is "cloudwatch".
    name = f"cloudwatch:{action}"
    backend = response.cloudwatch_backend
    requested = _tag_context("RequestTag", _tag_dict(response._get_param("Tags")))
    if action in ("ListTagsForResource", "TagResource", "UntagResource"):
        arn = response._get_param("ResourceARN") or "*"
        existing = _tag_context("ResourceTag", backend.list_tags_for_resource(arn))
        return [_check(name, arn, {**existing, **requested})]
    names = response._get_param("AlarmNames") or [response._get_param("AlarmName") or ""]
    names = [n for n in names if n]
    if action in ("PutMetricAlarm", "DeleteAlarms", "DescribeAlarms") and names:
        checks = []
        for alarm in names:
            arn = _arn(response, "cloudwatch", f"alarm:{alarm}")
            existing = _tag_context("ResourceTag", backend.list_tags_for_resource(arn))
            checks.append(_check(name, arn, {**existing, **requested}))
        return checks
    return [Check(name, "*")]
