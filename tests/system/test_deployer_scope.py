"""The deployer's reach under enforced IAM, on the S3 state backend: its stack and nothing else.

One private emulator with LOCAL_AWS_ENFORCE_IAM=true and STATE_BACKEND=s3; the state
bucket and the bootstrap are made through the real CLI as the admin, then the main
stack (autoscaling and scheduled scale-in on) is applied once, as the deployer, and
shared by every denial check below. The last test destroys it.

- The state bucket (`<prefix>-tfstate-<account>`): the deployer uses the main stack's
  state and lock, but cannot read, overwrite or delete the bootstrap's state, nor change
  any setting of the bucket (defect 3 of issue 12).
- Another project whose prefix starts with ours (`llm-twin-staging`): its bucket,
  repository, model, config, endpoint, scalable target and alarm are all out of reach,
  though their names match `llm-twin-*` (defect 5).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from llm_twin.control.credentials import read_credentials
from llm_twin.control.deploy.deployment import Deployment
from llm_twin.control.state import backend as state_backend
from llm_twin_local.aws.daemon import LocalAws, free_port
from tests.conftest import client, private_target, settings_for
from tests.support.project_resources import project_resources
from tests.support.runtime import deploy as _deploy

ACCOUNT = "123456789012"
REGION = "eu-central-1"
STATE_BUCKET = f"llm-twin-tfstate-{ACCOUNT}"
OTHER = "llm-twin-staging"
OTHER_TAGS = [{"Key": "project", "Value": OTHER}]
OUR_TAGS = [{"Key": "project", "Value": "llm-twin"}]
DIMENSION = "sagemaker:variant:DesiredInstanceCount"
DURATIONS: dict[str, float] = {}


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "llm-twin"), "--env-file", "/nonexistent/.env", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=900,
    )


def _error_code(operation, **params) -> str:
    with pytest.raises(ClientError) as caught:
        operation(**params)
    return caught.value.response["Error"]["Code"]


# -- signatures: what the client signed is what the emulator checks (defect 11) --------------


def test_listing_under_a_prefix_is_signed_as_the_client_signed_it(tmp_path: Path) -> None:
    """boto3 signs `prefix=env%3A%2F`; the emulator used to check `prefix=env:/` instead."""
    emulator = LocalAws(tmp_path, free_port(), enforce_iam=True)
    emulator.up()
    try:
        s3 = client(emulator.port, "s3")
        s3.create_bucket(Bucket="signature-check", CreateBucketConfiguration={"LocationConstraint": REGION})
        for prefix in ("env:/", "models/", "a b+c/"):
            assert s3.list_objects_v2(Bucket="signature-check", Prefix=prefix)["KeyCount"] == 0
        forged = boto3.Session(
            aws_access_key_id="test", aws_secret_access_key="not-the-secret", region_name=REGION
        ).client("s3", endpoint_url=f"http://127.0.0.1:{emulator.port}")
        assert _error_code(forged.list_objects_v2, Bucket="signature-check", Prefix="env:/") == (
            "SignatureDoesNotMatch"
        )
    finally:
        emulator.down()


# -- one applied stack on the S3 backend, as the deployer ------------------------------------


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    overrides = {
        "LOCAL_AWS_ENFORCE_IAM": "true",
        "STATE_BACKEND": "s3",
        "AUTOSCALING_ENABLED": "true",
        "AUTOSCALING_MIN_CAPACITY": "1",
        "AUTOSCALING_MAX_CAPACITY": "2",
        "SCHEDULED_SCALE_IN": "true",
    }
    with private_target(tmp_path_factory.mktemp("scope") / "state", **overrides) as environ:
        yield environ


@pytest.fixture(scope="module")
def bootstrapped(env: dict[str, str]) -> Deployment:
    """The admin's two stages through the real CLI: the state bucket, then the bootstrap on it."""
    started = time.monotonic()
    made = _cli(env, "bootstrap-state")
    assert made.returncode == 0, made.stderr
    bootstrap = _cli(env, "bootstrap")
    assert bootstrap.returncode == 0, bootstrap.stderr
    DURATIONS["bootstrap-state + bootstrap (CLI)"] = time.monotonic() - started
    return Deployment(settings_for(env))


@pytest.fixture(scope="module")
def applied(bootstrapped: Deployment) -> Deployment:
    started = time.monotonic()
    result = bootstrapped.apply(wait=False)
    DURATIONS["apply as the deployer"] = time.monotonic() - started
    assert result.changed
    return bootstrapped


def _deployer(deployment: Deployment, service: str):
    credentials, _ = read_credentials(deployment.credentials_path)
    session = boto3.Session(
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key,
        region_name=REGION,
    )
    return session.client(service, endpoint_url=deployment.settings.endpoint_url)


def test_the_bootstrap_ran_on_the_s3_backend_with_iam_enforced(bootstrapped: Deployment) -> None:
    s3 = client(bootstrapped.settings.local.port, "s3")
    key = state_backend.state_key(bootstrapped.settings, "bootstrap")
    assert s3.head_object(Bucket=STATE_BUCKET, Key=key)["ContentLength"] > 0


def test_the_deployer_applied_its_stack_and_keeps_its_state_in_the_bucket(applied: Deployment) -> None:
    s3 = client(applied.settings.local.port, "s3")
    state = json.loads(
        s3.get_object(Bucket=STATE_BUCKET, Key=state_backend.state_key(applied.settings, "main"))[
            "Body"
        ].read()
    )
    types = {r["type"] for r in state["resources"]}
    assert {
        "aws_sagemaker_endpoint",
        "aws_appautoscaling_target",
        "aws_appautoscaling_scheduled_action",
    } <= types


def test_a_replan_as_the_deployer_is_a_no_op(applied: Deployment) -> None:
    started = time.monotonic()
    assert applied.plan(detailed_exitcode=True).changes is False
    DURATIONS["re-plan as the deployer"] = time.monotonic() - started


# -- defect 3: the state bucket beyond the main stack's key ----------------------------------

BOOTSTRAP_KEY = "llm-twin/bootstrap/terraform.tfstate"
TAKEOVER_STEPS = {
    "read the bootstrap state": ("get_object", {"Key": BOOTSTRAP_KEY}),
    "overwrite the bootstrap state": ("put_object", {"Key": BOOTSTRAP_KEY, "Body": b"{}"}),
    "delete the bootstrap state": ("delete_object", {"Key": BOOTSTRAP_KEY}),
    "suspend versioning": ("put_bucket_versioning", {"VersioningConfiguration": {"Status": "Suspended"}}),
    "delete the TLS-only policy": ("delete_bucket_policy", {}),
    "replace the TLS-only policy": ("put_bucket_policy", {"Policy": json.dumps({"Statement": []})}),
    "lift the public access block": ("delete_public_access_block", {}),
    "loosen the public access block": (
        "put_public_access_block",
        {"PublicAccessBlockConfiguration": {"BlockPublicPolicy": False, "RestrictPublicBuckets": False}},
    ),
    "drop the encryption": ("delete_bucket_encryption", {}),
    "delete the bucket": ("delete_bucket", {}),
    "list old versions": ("list_object_versions", {}),
}


@pytest.mark.parametrize("step", TAKEOVER_STEPS)
def test_each_takeover_step_on_the_state_bucket_is_denied(applied: Deployment, step: str) -> None:
    method, params = TAKEOVER_STEPS[step]
    s3 = _deployer(applied, "s3")
    assert _error_code(getattr(s3, method), Bucket=STATE_BUCKET, **params) == "AccessDenied"


def test_the_bucket_is_as_the_admin_left_it(applied: Deployment) -> None:
    s3 = client(applied.settings.local.port, "s3")
    assert s3.get_bucket_versioning(Bucket=STATE_BUCKET)["Status"] == "Enabled"
    assert all(s3.get_public_access_block(Bucket=STATE_BUCKET)["PublicAccessBlockConfiguration"].values())
    policy = json.loads(s3.get_bucket_policy(Bucket=STATE_BUCKET)["Policy"])
    assert policy["Statement"][0]["Sid"] == "DenyInsecureTransport"
    assert json.loads(s3.get_object(Bucket=STATE_BUCKET, Key=BOOTSTRAP_KEY)["Body"].read())["resources"]


# -- defect 5: another project whose names start with ours -----------------------------------


@pytest.fixture(scope="module")
def other_project(applied: Deployment) -> dict[str, str]:
    """llm-twin-staging's resources, made by the admin and tagged as that project tags them."""
    port = applied.settings.local.port
    s3 = client(port, "s3")
    bucket = f"{OTHER}-artifacts-{ACCOUNT}-{REGION}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket=bucket, Key="models/weights.safetensors", Body=b"x")
    client(port, "ecr").create_repository(repositoryName=f"{OTHER}-inference", tags=OTHER_TAGS)
    sagemaker = client(port, "sagemaker")
    endpoint = f"{OTHER}-endpoint"
    _deploy(sagemaker, endpoint, "/nonexistent/staging-model")
    for arn in (
        sagemaker.describe_model(ModelName=f"{endpoint}-model")["ModelArn"],
        sagemaker.describe_endpoint_config(EndpointConfigName=f"{endpoint}-config")["EndpointConfigArn"],
        sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointArn"],
    ):
        sagemaker.add_tags(ResourceArn=arn, Tags=OTHER_TAGS)
    resource_id = f"endpoint/{endpoint}/variant/AllTraffic"
    target = client(port, "application-autoscaling").register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId=resource_id,
        ScalableDimension=DIMENSION,
        MinCapacity=1,
        MaxCapacity=2,
        Tags={"project": OTHER},
    )["ScalableTargetARN"]
    alarm = f"{endpoint}-invocation-5xx-errors"
    client(port, "cloudwatch").put_metric_alarm(
        AlarmName=alarm,
        MetricName="Invocation5XXErrors",
        Namespace="AWS/SageMaker",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        Tags=OTHER_TAGS,
    )
    return {
        "bucket": bucket,
        "endpoint": endpoint,
        "resource_id": resource_id,
        "target": target,
        "alarm": alarm,
    }


def test_another_projects_bucket_is_out_of_reach(applied: Deployment, other_project: dict[str, str]) -> None:
    s3 = _deployer(applied, "s3")
    bucket = other_project["bucket"]
    assert _error_code(s3.get_object, Bucket=bucket, Key="models/weights.safetensors") == "AccessDenied"
    assert _error_code(s3.put_object, Bucket=bucket, Key="models/planted", Body=b"x") == "AccessDenied"
    assert _error_code(s3.delete_bucket_policy, Bucket=bucket) == "AccessDenied"
    assert _error_code(s3.delete_bucket, Bucket=bucket) == "AccessDenied"


def test_another_projects_repository_is_out_of_reach(
    applied: Deployment, other_project: dict[str, str]
) -> None:
    ecr = _deployer(applied, "ecr")
    code = _error_code(ecr.delete_repository, repositoryName=f"{OTHER}-inference", force=True)
    assert code == "AccessDeniedException"


def test_another_projects_endpoint_is_out_of_reach(
    applied: Deployment, other_project: dict[str, str]
) -> None:
    sagemaker = _deployer(applied, "sagemaker")
    endpoint = other_project["endpoint"]
    denied = {
        "delete the endpoint": (sagemaker.delete_endpoint, {"EndpointName": endpoint}),
        "point it at its own config": (
            sagemaker.update_endpoint,
            {"EndpointName": endpoint, "EndpointConfigName": f"{endpoint}-config"},
        ),
        "delete its config": (sagemaker.delete_endpoint_config, {"EndpointConfigName": f"{endpoint}-config"}),
        "delete its model": (sagemaker.delete_model, {"ModelName": f"{endpoint}-model"}),
        "claim it with our tag": (
            sagemaker.add_tags,
            {"ResourceArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/{endpoint}", "Tags": OUR_TAGS},
        ),
    }
    codes = {what: _error_code(call, **params) for what, (call, params) in denied.items()}
    assert codes == dict.fromkeys(denied, "AccessDeniedException")
    runtime = _deployer(applied, "sagemaker-runtime")
    assert _error_code(runtime.invoke_endpoint, EndpointName=endpoint, Body=b"{}") == "AccessDeniedException"


def test_another_projects_scalable_target_is_out_of_reach(
    applied: Deployment, other_project: dict[str, str]
) -> None:
    scaling = _deployer(applied, "application-autoscaling")
    target = {
        "ServiceNamespace": "sagemaker",
        "ResourceId": other_project["resource_id"],
        "ScalableDimension": DIMENSION,
    }
    denied = {
        "re-register it": (scaling.register_scalable_target, {**target, "MinCapacity": 0, "MaxCapacity": 9}),
        "re-register it under our tag": (
            scaling.register_scalable_target,
            {**target, "MinCapacity": 0, "MaxCapacity": 9, "Tags": {"project": "llm-twin"}},
        ),
        "schedule its scale-in": (
            scaling.put_scheduled_action,
            {
                **target,
                "ScheduledActionName": "x",
                "Schedule": "cron(0 0 * * ? *)",
                "ScalableTargetAction": {"MaxCapacity": 0},
            },
        ),
        "deregister it": (scaling.deregister_scalable_target, target),
        "claim it with our tag": (
            scaling.tag_resource,
            {"ResourceARN": other_project["target"], "Tags": {"project": "llm-twin"}},
        ),
    }
    codes = {what: _error_code(call, **params) for what, (call, params) in denied.items()}
    assert codes == dict.fromkeys(denied, "AccessDeniedException")


def _status(operation, **params) -> int:
    """The HTTP status `operation(**params)` fails with (moto answers CloudWatch's CBOR clients in XML)."""
    with pytest.raises(ClientError) as caught:
        operation(**params)
    return caught.value.response["ResponseMetadata"]["HTTPStatusCode"]


def test_another_projects_alarm_is_out_of_reach(applied: Deployment, other_project: dict[str, str]) -> None:
    cloudwatch = _deployer(applied, "cloudwatch")
    assert _status(cloudwatch.delete_alarms, AlarmNames=[other_project["alarm"]]) == 403
    overwrite = {
        "AlarmName": other_project["alarm"],
        "MetricName": "Invocation5XXErrors",
        "Namespace": "AWS/SageMaker",
        "Statistic": "Sum",
        "Period": 60,
        "EvaluationPeriods": 1,
        "Threshold": 1e9,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "Tags": OUR_TAGS,
    }
    assert _status(cloudwatch.put_metric_alarm, **overwrite) == 403
    alarms = client(applied.settings.local.port, "cloudwatch").describe_alarms(
        AlarmNames=[other_project["alarm"]]
    )
    assert alarms["MetricAlarms"][0]["Threshold"] == 1


# -- last: the deployer destroys its stack on the S3 backend ---------------------------------


def test_the_deployer_destroys_its_stack_and_leaves_the_other_project(
    applied: Deployment, other_project: dict[str, str]
) -> None:
    started = time.monotonic()
    assert applied.destroy()
    DURATIONS["destroy as the deployer"] = time.monotonic() - started
    left = project_resources(applied.settings.local.port)
    main_stack_kinds = (
        "buckets",
        "repositories",
        "models",
        "endpoint_configs",
        "endpoints",
        "scalable_targets",
    )
    ours = [n for kind in main_stack_kinds for n in left[kind] if OTHER not in n and n != STATE_BUCKET]
    assert ours == [], left
    assert left["endpoints"] == [other_project["endpoint"]]
    s3 = client(applied.settings.local.port, "s3")
    assert s3.head_bucket(Bucket=other_project["bucket"])
    print("\ndurations:", json.dumps({k: round(v, 1) for k, v in DURATIONS.items()}))
