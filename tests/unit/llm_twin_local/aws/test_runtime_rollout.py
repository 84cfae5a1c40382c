"""Blue/green updates in the local runtime: baking watched by rollback alarms, through real boto3."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from llm_twin_local.aws.daemon import LocalAws, free_port
from llm_twin_local.aws.runtime import BAKE_CAP_ENV
from llm_twin_local.model_server.checkpoint import create_sized_checkpoint
from tests.conftest import client
from tests.unit.llm_twin_local.aws.test_runtime import _configure, _wait_settled, _wait_status

pytestmark = pytest.mark.stack

ALARM = "bg-invocation-5xx-errors"


def _blue_green(wait_seconds: int) -> dict:
    return {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": wait_seconds},
            "TerminationWaitInSeconds": 0,
        },
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": ALARM}]},
    }


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAws]:
    saved = os.environ.get(BAKE_CAP_ENV)
    os.environ[BAKE_CAP_ENV] = "3600"  # read by the emulator process, which inherits it
    try:
        emulator = LocalAws(tmp_path_factory.mktemp("rollout-runtime"), free_port())
        emulator.up()
    finally:
        if saved is None:
            os.environ.pop(BAKE_CAP_ENV, None)
        else:
            os.environ[BAKE_CAP_ENV] = saved
    yield emulator
    emulator.down()


def test_an_alarm_while_baking_sends_traffic_back_to_the_old_fleet(
    emulator: LocalAws, tmp_path_factory: pytest.TempPathFactory
) -> None:
    model = create_sized_checkpoint(tmp_path_factory.mktemp("tiny"), "tiny")
    sagemaker = client(emulator.port, "sagemaker")
    cloudwatch = client(emulator.port, "cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName=ALARM,
        Namespace="AWS/SageMaker",
        MetricName="Invocation5XXErrors",
        Dimensions=[{"Name": "EndpointName", "Value": "bg"}, {"Name": "VariantName", "Value": "AllTraffic"}],
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    _configure(sagemaker, "bg", model)
    _configure(sagemaker, "bg-b", model, MAX_INPUT_TOKENS="16")
    sagemaker.create_endpoint(
        EndpointName="bg", EndpointConfigName="bg-config", DeploymentConfig=_blue_green(3600)
    )
    _wait_status(sagemaker, "bg", "InService")

    # The alarm fires during the hour-long bake: traffic goes back to the old fleet at once.
    started = time.monotonic()
    sagemaker.update_endpoint(
        EndpointName="bg", EndpointConfigName="bg-b-config", DeploymentConfig=_blue_green(3600)
    )
    cloudwatch.set_alarm_state(AlarmName=ALARM, StateValue="ALARM", StateReason="5xx from the new fleet")
    rolled_back = _wait_settled(sagemaker, "bg", timeout=600)
    assert time.monotonic() - started < 600  # the server start, not the bake
    assert rolled_back["EndpointStatus"] == "InService"
    assert rolled_back["EndpointConfigName"] == "bg-config"
    assert rolled_back["FailureReason"].startswith(
        f"update to bg-b-config rolled back (blue/green ALL_AT_ONCE; rollback alarms: {ALARM}): "
        f"alarm {ALARM} went to ALARM while the new fleet was baking"
    )

    sagemaker.delete_endpoint(EndpointName="bg")
