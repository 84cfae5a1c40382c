"""The emulator layer, exercised through real boto3 clients against the server."""

from collections.abc import Iterator
from pathlib import Path

import moto
import pytest
from botocore.exceptions import ClientError
from moto import backends

from llm_twin_local.aws.daemon import LocalAws, free_port
from llm_twin_local.aws.patches import apply_all, valid_hosting_instance_type
from tests.conftest import client

ROLE = "arn:aws:iam::123456789012:role/r"


@pytest.fixture(scope="module")
def port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    emulator = LocalAws(Path(tmp_path_factory.mktemp("patches")), free_port())
    emulator.up()
    client(emulator.port, "sagemaker").create_model(
        ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "i:1"}
    )
    yield emulator.port
    emulator.down()


def _variant(instance_type: str) -> list[dict]:
    return [{"VariantName": "v", "ModelName": "m", "InstanceType": instance_type, "InitialInstanceCount": 1}]


def test_current_gpu_instance_types_are_accepted(port: int) -> None:
    sagemaker = client(port, "sagemaker")
    for instance_type in ("ml.g5.2xlarge", "ml.g6e.12xlarge", "ml.p5.48xlarge", "ml.inf2.xlarge"):
        name = "cfg-" + instance_type.replace(".", "-")
        sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=_variant(instance_type))


def test_unknown_instance_types_still_fail(port: int) -> None:
    with pytest.raises(ClientError, match="ml.g5.2xlargee"):
        client(port, "sagemaker").create_endpoint_config(
            EndpointConfigName="bad", ProductionVariants=_variant("ml.g5.2xlargee")
        )
    assert not valid_hosting_instance_type("ml.zz9.xlarge")


def test_describe_omits_blocks_that_were_never_set(port: int) -> None:
    sagemaker = client(port, "sagemaker")
    sagemaker.create_model(ModelName="m1", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "i:1"})
    sagemaker.create_endpoint_config(EndpointConfigName="c1", ProductionVariants=_variant("ml.g5.xlarge"))
    assert "VpcConfig" not in sagemaker.describe_model(ModelName="m1")
    config = sagemaker.describe_endpoint_config(EndpointConfigName="c1")
    assert "DataCaptureConfig" not in config
    sagemaker.create_endpoint(EndpointName="e1", EndpointConfigName="c1")  # moto still reads the full dict
    assert sagemaker.describe_endpoint(EndpointName="e1")["EndpointStatus"] == "InService"


def test_scalable_target_tags_round_trip(port: int) -> None:
    sagemaker = client(port, "sagemaker")
    sagemaker.create_endpoint_config(EndpointConfigName="c2", ProductionVariants=_variant("ml.g5.xlarge"))
    sagemaker.create_endpoint(EndpointName="e2", EndpointConfigName="c2")
    scaling = client(port, "application-autoscaling")
    arn = scaling.register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId="endpoint/e2/variant/v",
        ScalableDimension="sagemaker:variant:DesiredInstanceCount",
        MinCapacity=1,
        MaxCapacity=2,
        Tags={"project": "llm-twin"},
    )["ScalableTargetARN"]
    scaling.tag_resource(ResourceARN=arn, Tags={"team": "ml"})
    scaling.untag_resource(ResourceARN=arn, TagKeys=["project"])
    assert scaling.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"team": "ml"}
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        scaling.list_tags_for_resource(ResourceARN=arn + "x")


def test_deployment_config_is_shown_as_last_deployment_config(port: int) -> None:
    sagemaker = client(port, "sagemaker")
    sagemaker.create_endpoint_config(EndpointConfigName="c-dc", ProductionVariants=_variant("ml.g5.xlarge"))
    sagemaker.create_endpoint_config(EndpointConfigName="c-dc2", ProductionVariants=_variant("ml.g5.xlarge"))
    canary = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "CANARY",
                "WaitIntervalInSeconds": 60,
                "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10},
            },
            "TerminationWaitInSeconds": 0,
        },
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "a-5xx"}]},
    }
    sagemaker.create_endpoint(EndpointName="e-dc", EndpointConfigName="c-dc", DeploymentConfig=canary)
    assert sagemaker.describe_endpoint(EndpointName="e-dc")["LastDeploymentConfig"] == canary
    # An update without a DeploymentConfig leaves none behind, as the provider expects.
    sagemaker.update_endpoint(EndpointName="e-dc", EndpointConfigName="c-dc2")
    described = sagemaker.describe_endpoint(EndpointName="e-dc")
    assert described["EndpointConfigName"] == "c-dc2"
    assert "LastDeploymentConfig" not in described


def test_eventbridge_notification_round_trips(port: int) -> None:
    s3 = client(port, "s3")
    s3.create_bucket(Bucket="events", CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
    assert "EventBridgeConfiguration" not in s3.get_bucket_notification_configuration(Bucket="events")
    s3.put_bucket_notification_configuration(
        Bucket="events", NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    shown = s3.get_bucket_notification_configuration(Bucket="events")
    assert shown["EventBridgeConfiguration"] == {}


def test_moto_lists_its_service_modules_once() -> None:
    root = Path(moto.__file__).parent
    listed = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("__"))
    apply_all()
    assert list(backends.list_of_moto_modules()) == listed
    assert backends.list_of_moto_modules() is backends.list_of_moto_modules()
