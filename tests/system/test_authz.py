"""The deployer under enforced IAM: sufficient for the whole main stack, and no wider.

The emulator runs with LOCAL_AWS_ENFORCE_IAM=true, so the bootstrap runs as a real
admin user and the main stack as the deployer whose key the bootstrap created; every
request is checked against the deployer's policy, for SageMaker, ECR and Application
Auto Scaling against the real resource ARN (see llm_twin_local.aws.authz).

`sagemaker:InvokeEndpoint*` is answered by the local runtime's WSGI layer before moto
sees it, so that layer authorizes it with the same checks (an endpoint made directly
with boto3 stands in for the project's, which is cheaper than an apply).

Not checked by these tests: the CloudWatch alarm actions, which the main stack never
calls itself (target tracking creates its alarms inside Application Auto Scaling).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from llm_twin.client.stream import payload_parts
from llm_twin.control.credentials import read_credentials
from llm_twin.control.deploy.deployment import Deployment
from llm_twin_local.aws.authz import Check, is_allowed
from llm_twin_local.model_server.checkpoint import create_sized_checkpoint
from tests.conftest import client, private_target, settings_for
from tests.support.project_resources import project_resources
from tests.support.runtime import deploy as _deploy
from tests.support.runtime import wait_status as _wait_status

ACCOUNT = "123456789012"
REGION = "eu-central-1"
MODEL_ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model/llm-twin-*"
POLICY = {
    "Statement": [
        {"Effect": "Allow", "Action": ["sagemaker:CreateModel"], "Resource": [MODEL_ARN]},
        {
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": f"arn:aws:iam::{ACCOUNT}:role/llm-twin-sagemaker-execution",
            "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        },
        {"Effect": "Deny", "Action": "sagemaker:CreateModel", "Resource": f"{MODEL_ARN[:-1]}forbidden"},
    ]
}
EXECUTION_ROLE = f"arn:aws:iam::{ACCOUNT}:role/llm-twin-sagemaker-execution"


# -- the evaluator, without an emulator ------------------------------------------


def test_an_arn_scoped_allow_matches_the_real_arn() -> None:
    assert is_allowed([POLICY], Check("sagemaker:CreateModel", MODEL_ARN.replace("*", "m1")))


def test_an_arn_scoped_allow_does_not_match_another_name() -> None:
    assert not is_allowed([POLICY], Check("sagemaker:CreateModel", MODEL_ARN.replace("llm-twin-*", "other")))


def test_an_explicit_deny_wins() -> None:
    assert not is_allowed([POLICY], Check("sagemaker:CreateModel", MODEL_ARN.replace("*", "forbidden")))


def test_pass_role_needs_the_service_condition() -> None:
    to_ec2 = Check("iam:PassRole", EXECUTION_ROLE, {"iam:PassedToService": "ec2.amazonaws.com"})
    assert not is_allowed([POLICY], to_ec2)


def test_pass_role_without_the_condition_key_is_denied() -> None:
    assert not is_allowed([POLICY], Check("iam:PassRole", EXECUTION_ROLE))


def test_pass_role_to_sagemaker_is_allowed() -> None:
    to_sagemaker = Check("iam:PassRole", EXECUTION_ROLE, {"iam:PassedToService": "sagemaker.amazonaws.com"})
    assert is_allowed([POLICY], to_sagemaker)


# -- the deployer on an enforcing emulator ---------------------------------------


@pytest.fixture(scope="module")
def enforced_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A private emulator with IAM enforced, autoscaling on so scalable targets are checked."""
    state_dir = tmp_path_factory.mktemp("enforced") / "state"
    with private_target(state_dir, LOCAL_AWS_ENFORCE_IAM="true", AUTOSCALING_ENABLED="true") as env:
        yield env


@pytest.fixture(scope="module")
def deployment(enforced_env: dict[str, str]) -> Deployment:
    deployment = Deployment(settings_for(enforced_env))
    deployment.bootstrap()
    return deployment


def _deployer_client(deployment: Deployment, service: str):
    credentials, _ = read_credentials(deployment.credentials_path)
    return _client_with(deployment, service, credentials.access_key_id, credentials.secret_access_key)


def _client_with(deployment: Deployment, service: str, key_id: str, secret: str):
    session = boto3.Session(aws_access_key_id=key_id, aws_secret_access_key=secret, region_name=REGION)
    return session.client(service, endpoint_url=deployment.settings.endpoint_url)


def _error_code(operation, **params) -> str:
    """The AWS error code `operation(**params)` fails with."""
    with pytest.raises(ClientError) as caught:
        operation(**params)
    return caught.value.response["Error"]["Code"]


def test_the_bootstrap_ran_as_a_real_admin_user(deployment: Deployment) -> None:
    arn = client(deployment.settings.local.port, "sts").get_caller_identity()["Arn"]
    assert arn == f"arn:aws:iam::{ACCOUNT}:user/local-admin"


def test_an_unknown_key_is_refused(deployment: Deployment) -> None:
    sagemaker = _client_with(deployment, "sagemaker", "AKIAUNKNOWNKEY000000", "nope")
    assert _error_code(sagemaker.list_models) == "UnrecognizedClientException"


@pytest.mark.stack
def test_the_deployer_applies_replans_and_destroys_the_whole_stack(deployment: Deployment) -> None:
    """Sufficient: apply, a no-op re-plan and destroy, every request as the deployer."""
    applied = deployment.apply(wait=False)
    endpoint = _deployer_client(deployment, "sagemaker").describe_endpoint(EndpointName="llm-twin-endpoint")
    assert applied.changed and endpoint["EndpointName"] == "llm-twin-endpoint"
    assert deployment.plan(detailed_exitcode=True).changes is False
    deployment.destroy()
    left = project_resources(deployment.settings.local.port)
    assert left["buckets"] == left["repositories"] == left["endpoints"] == left["scalable_targets"] == []


def test_creating_a_bucket_outside_the_prefix_is_denied(deployment: Deployment) -> None:
    s3 = _deployer_client(deployment, "s3")
    location = {"LocationConstraint": REGION}
    assert (
        _error_code(s3.create_bucket, Bucket="other-bucket", CreateBucketConfiguration=location)
        == "AccessDenied"
    )


def test_creating_a_repository_outside_the_prefix_is_denied(deployment: Deployment) -> None:
    ecr = _deployer_client(deployment, "ecr")
    assert _error_code(ecr.create_repository, repositoryName="other-repository") == "AccessDeniedException"


def test_deleting_another_projects_bucket_is_denied(deployment: Deployment) -> None:
    client(deployment.settings.local.port, "s3").create_bucket(
        Bucket="another-project-data", CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    s3 = _deployer_client(deployment, "s3")
    assert _error_code(s3.delete_bucket, Bucket="another-project-data") == "AccessDenied"


def test_creating_an_iam_user_is_denied(deployment: Deployment) -> None:
    iam = _deployer_client(deployment, "iam")
    assert _error_code(iam.create_user, UserName="llm-twin-intruder") == "AccessDenied"


def test_passing_another_role_to_sagemaker_is_denied(deployment: Deployment) -> None:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sagemaker.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    other_role = client(deployment.settings.local.port, "iam").create_role(
        RoleName="another-project-admin", AssumeRolePolicyDocument=json.dumps(trust)
    )["Role"]["Arn"]
    sagemaker = _deployer_client(deployment, "sagemaker")
    container = {"Image": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/llm-twin-inference:1"}
    code = _error_code(
        sagemaker.create_model,
        ModelName="llm-twin-escalation",
        ExecutionRoleArn=other_role,
        PrimaryContainer=container,
    )
    assert code == "AccessDeniedException"


def test_launching_an_ec2_instance_is_denied(deployment: Deployment) -> None:
    ec2 = _deployer_client(deployment, "ec2")
    assert _error_code(ec2.run_instances, ImageId="ami-12c6146b", MinCount=1, MaxCount=1) == "AccessDenied"


# -- credentials hygiene (rotation replaces the deployer's key) -----------------


def test_rerunning_the_bootstrap_keeps_the_key_and_the_file(deployment: Deployment) -> None:
    before = deployment.credentials_path.read_bytes(), deployment.credentials_path.stat().st_mtime_ns
    result = deployment.bootstrap()
    after = deployment.credentials_path.read_bytes(), deployment.credentials_path.stat().st_mtime_ns
    assert not result.credentials_written and after == before


def test_rotating_the_key_replaces_it_and_retires_the_old_one(deployment: Deployment) -> None:
    old, _ = read_credentials(deployment.credentials_path)
    result = deployment.bootstrap(rotate_key=True)
    old_key = _client_with(deployment, "sagemaker", old.access_key_id, old.secret_access_key)
    assert result.access_key_id != old.access_key_id and result.credentials_written
    assert _error_code(old_key.list_models) == "UnrecognizedClientException"


# -- invoking the endpoint (after the stack test, whose destroy must find no endpoint;
# after the bootstraps too, whose health probe reads moto's whole state) ---------

INVOKED = "llm-twin-invoke"
INVOKE_BODY = json.dumps({"inputs": "hi", "parameters": {"max_new_tokens": 2}})


@pytest.fixture(scope="module")
def invocable(deployment: Deployment, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An endpoint of the project (its name and its tag), made by the admin, with a real model server."""
    model_dir = create_sized_checkpoint(tmp_path_factory.mktemp("tiny"), "tiny")
    sagemaker = client(deployment.settings.local.port, "sagemaker")
    _deploy(sagemaker, INVOKED, Path(model_dir))
    arn = sagemaker.describe_endpoint(EndpointName=INVOKED)["EndpointArn"]
    sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": "project", "Value": "llm-twin"}])
    _wait_status(sagemaker, INVOKED, "InService")
    yield INVOKED
    sagemaker.delete_endpoint(EndpointName=INVOKED)
    sagemaker.delete_endpoint_config(EndpointConfigName=f"{INVOKED}-config")
    sagemaker.delete_model(ModelName=f"{INVOKED}-model")


@pytest.fixture(scope="module")
def outsider(deployment: Deployment) -> tuple[str, str, str]:
    """A fresh IAM user with a key and no policy at all: (user ARN, key id, secret)."""
    iam = client(deployment.settings.local.port, "iam")
    arn = iam.create_user(UserName="no-policy-user")["User"]["Arn"]
    key = iam.create_access_key(UserName="no-policy-user")["AccessKey"]
    return arn, key["AccessKeyId"], key["SecretAccessKey"]


def _denial(user_arn: str, action: str, endpoint: str) -> dict[str, str]:
    resource = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/{endpoint}"
    return {
        "Code": "AccessDeniedException",
        "Message": f"User: {user_arn} is not authorized to perform: sagemaker:{action} on resource: "
        f"{resource} because no identity-based policy allows the sagemaker:{action} action",
    }


def test_the_deployer_may_invoke_the_project_endpoint(deployment: Deployment, invocable: str) -> None:
    runtime = _deployer_client(deployment, "sagemaker-runtime")
    answer = runtime.invoke_endpoint(EndpointName=invocable, Body=INVOKE_BODY, ContentType="application/json")
    assert json.loads(answer["Body"].read())[0]["generated_text"]


def test_the_deployer_may_stream_from_the_project_endpoint(deployment: Deployment, invocable: str) -> None:
    runtime = _deployer_client(deployment, "sagemaker-runtime")
    body = json.dumps({**json.loads(INVOKE_BODY), "stream": True})
    answer = runtime.invoke_endpoint_with_response_stream(
        EndpointName=invocable, Body=body, ContentType="application/json"
    )
    assert b"".join(payload_parts(answer["Body"])).startswith(b"data:")


def test_a_user_without_invoke_permission_is_denied(
    deployment: Deployment, invocable: str, outsider: tuple[str, str, str]
) -> None:
    user_arn, key_id, secret = outsider
    runtime = _client_with(deployment, "sagemaker-runtime", key_id, secret)
    with pytest.raises(ClientError) as caught:
        runtime.invoke_endpoint(EndpointName=invocable, Body=INVOKE_BODY, ContentType="application/json")
    assert caught.value.response["Error"] == _denial(user_arn, "InvokeEndpoint", invocable)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_a_user_without_stream_permission_is_denied(
    deployment: Deployment, invocable: str, outsider: tuple[str, str, str]
) -> None:
    user_arn, key_id, secret = outsider
    runtime = _client_with(deployment, "sagemaker-runtime", key_id, secret)
    with pytest.raises(ClientError) as caught:
        runtime.invoke_endpoint_with_response_stream(EndpointName=invocable, Body=INVOKE_BODY)
    assert caught.value.response["Error"] == _denial(user_arn, "InvokeEndpointWithResponseStream", invocable)


def test_the_deployer_may_not_invoke_another_projects_endpoint(deployment: Deployment) -> None:
    """Refused on the ARN before the endpoint is looked up, as AWS does: no "not found" leaks."""
    runtime = _deployer_client(deployment, "sagemaker-runtime")
    code = _error_code(runtime.invoke_endpoint, EndpointName="another-project-endpoint", Body=INVOKE_BODY)
    assert code == "AccessDeniedException"


def test_an_unknown_key_may_not_invoke(deployment: Deployment) -> None:
    runtime = _client_with(deployment, "sagemaker-runtime", "AKIAUNKNOWNKEY000000", "nope")
    code = _error_code(runtime.invoke_endpoint, EndpointName=INVOKED, Body=INVOKE_BODY)
    assert code == "UnrecognizedClientException"


# -- the request context is AWS's: only the keys its table lists for the action -------------

OLD_SCALING_STATEMENT = {
    "Effect": "Allow",
    "Action": ["application-autoscaling:ListTagsForResource", "application-autoscaling:TagResource"],
    "Resource": f"arn:aws:application-autoscaling:{REGION}:{ACCOUNT}:scalable-target/*",
    "Condition": {"StringEquals": {"application-autoscaling:service-namespace": "sagemaker"}},
}


def test_tag_calls_see_no_autoscaling_keys_as_on_aws(deployment: Deployment) -> None:
    """AWS supplies no namespace key to tag calls, so a statement conditioned on it allows nothing."""
    port = deployment.settings.local.port
    target = client(port, "application-autoscaling").register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId="endpoint/context-check/variant/AllTraffic",
        ScalableDimension="sagemaker:variant:DesiredInstanceCount",
        MinCapacity=1,
        MaxCapacity=2,
    )["ScalableTargetARN"]
    iam = client(port, "iam")
    iam.create_user(UserName="old-scaling-policy")
    policy = {"Version": "2012-10-17", "Statement": [OLD_SCALING_STATEMENT]}
    iam.put_user_policy(UserName="old-scaling-policy", PolicyName="p", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="old-scaling-policy")["AccessKey"]
    scaling = _client_with(deployment, "application-autoscaling", key["AccessKeyId"], key["SecretAccessKey"])
    assert _error_code(scaling.list_tags_for_resource, ResourceARN=target) == "AccessDeniedException"
