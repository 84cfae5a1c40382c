"""The applied stack, inspected through boto3 (and a localstack-client session).

These tests only read, so they share the session's one applied stack.
"""

import json

import localstack_client.session
import pytest

from llm_twin.control.deploy.deployment import Deployment
from llm_twin.errors import StateError
from tests.conftest import client

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def port(applied_stack: Deployment) -> int:
    return applied_stack.settings.local.port


def test_an_immediate_replan_is_a_no_op(applied_stack: Deployment) -> None:
    assert applied_stack.plan(detailed_exitcode=True).changes is False


def test_execution_role_trusts_only_sagemaker(port: int) -> None:
    role = client(port, "iam").get_role(RoleName="llm-twin-sagemaker-execution")["Role"]
    statement = role["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in statement] == [{"Service": "sagemaker.amazonaws.com"}]
    assert statement[0]["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}


def test_deployer_has_no_wildcard_actions_and_passes_only_the_execution_role(port: int) -> None:
    iam = client(port, "iam")
    arn = "arn:aws:iam::123456789012:policy/llm-twin-deployer"
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    document = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
    document = json.loads(document) if isinstance(document, str) else document
    actions = [
        a
        for s in document["Statement"]
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    ]
    assert not [a for a in actions if "*" in a]
    pass_role = [s for s in document["Statement"] if s["Action"] == "iam:PassRole"]
    assert pass_role[0]["Resource"] == "arn:aws:iam::123456789012:role/llm-twin-sagemaker-execution"
    assert pass_role[0]["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}


def test_bucket_is_encrypted_versioned_private_and_tls_only(port: int) -> None:
    session = localstack_client.session.Session(
        localstack_host=f"127.0.0.1:{port}", region_name="eu-central-1"
    )
    s3 = session.client("s3")
    bucket = "llm-twin-artifacts-123456789012-eu-central-1"
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values()) and len(block) == 4
    assert s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "BucketOwnerEnforced"}
    ]
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    assert policy["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    lifecycle = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"][0]
    assert lifecycle["NoncurrentVersionExpiration"]["NoncurrentDays"] == 30
    tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]}
    assert tags["project"] == "llm-twin"


def test_repository_is_immutable_scanned_and_expires_images(port: int) -> None:
    ecr = client(port, "ecr")
    repository = ecr.describe_repositories(repositoryNames=["llm-twin-inference"])["repositories"][0]
    assert repository["imageTagMutability"] == "IMMUTABLE"
    assert repository["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repository["encryptionConfiguration"]["encryptionType"] == "AES256"
    rules = json.loads(ecr.get_lifecycle_policy(repositoryName="llm-twin-inference")["lifecyclePolicyText"])[
        "rules"
    ]
    assert [r["selection"]["tagStatus"] for r in rules] == ["untagged", "any"]


def test_endpoint_config_carries_the_llm_timeouts_on_the_variant(
    port: int, applied_stack: Deployment
) -> None:
    sagemaker = client(port, "sagemaker")
    endpoint = sagemaker.describe_endpoint(EndpointName="llm-twin-endpoint")
    assert endpoint["EndpointStatus"] == "InService"
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    variant = config["ProductionVariants"][0]
    assert variant["InstanceType"] == "ml.g5.2xlarge"
    assert variant["ContainerStartupHealthCheckTimeoutInSeconds"] == 900
    assert variant["ModelDataDownloadTimeoutInSeconds"] == 1200
    model = sagemaker.describe_model(ModelName=variant["ModelName"])
    environment = model["PrimaryContainer"]["Environment"]
    assert environment["MAX_INPUT_TOKENS"] == "2048" and environment["MAX_TOTAL_TOKENS"] == "4096"
    assert "CONTAINER_STARTUP_HEALTH_CHECK_TIMEOUT" not in json.dumps(environment)
    assert model["PrimaryContainer"]["Image"].endswith(
        "huggingface-pytorch-tgi-inference:2.7.0-tgi3.3.6-gpu-py311-cu124-ubuntu22.04"
    )


def test_autoscaling_bounds_and_policy(port: int) -> None:
    scaling = client(port, "application-autoscaling")
    target = scaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"][0]
    assert target["ResourceId"] == "endpoint/llm-twin-endpoint/variant/AllTraffic"
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 3)
    policy = scaling.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"][0]
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert (
        tracking["PredefinedMetricSpecification"]["PredefinedMetricType"]
        == "SageMakerVariantInvocationsPerInstance"
    )
    assert (tracking["ScaleInCooldown"], tracking["ScaleOutCooldown"]) == (600, 300)


def test_the_main_stack_ran_as_the_deployer_not_admin(applied_stack: Deployment) -> None:
    credentials_path = applied_stack.credentials_path
    assert oct(credentials_path.stat().st_mode & 0o777) == "0o600"
    state = applied_stack.endpoint_state()
    assert state.status == "InService"


def test_destroy_bootstrap_is_refused_while_the_main_stack_exists(applied_stack: Deployment) -> None:
    with pytest.raises(
        StateError, match=r"main stack still has \d+ resources in state .*run `make destroy` first"
    ):
        applied_stack.destroy_bootstrap()
