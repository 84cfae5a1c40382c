"""Blue/green updates in the local runtime: baking watched by rollback alarms, through real boto3."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from llm_twin_local.aws import patches
from llm_twin_local.aws.daemon import LocalAws
from llm_twin_local.aws.runtime.rollout import BAKE_CAP_ENV, DEFAULT_BAKE_CAP_SECONDS, Rollout, bake_cap
from tests.conftest import client
from tests.support.runtime import configure, running_emulator, wait_settled, wait_status

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
    # The cap is read by the emulator process, which inherits it.
    with running_emulator(tmp_path_factory.mktemp("rollout-runtime"), **{BAKE_CAP_ENV: "3600"}) as emulator:
        yield emulator


@pytest.mark.stack
def test_an_alarm_while_baking_sends_traffic_back_to_the_old_fleet(
    emulator: LocalAws, tiny_model: Path
) -> None:
    model = tiny_model
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
    configure(sagemaker, "bg", model)
    configure(sagemaker, "bg-b", model, MAX_INPUT_TOKENS="16")
    sagemaker.create_endpoint(
        EndpointName="bg", EndpointConfigName="bg-config", DeploymentConfig=_blue_green(3600)
    )
    wait_status(sagemaker, "bg", "InService")

    # The alarm fires during the hour-long bake: traffic goes back to the old fleet at once.
    started = time.monotonic()
    sagemaker.update_endpoint(
        EndpointName="bg", EndpointConfigName="bg-b-config", DeploymentConfig=_blue_green(3600)
    )
    cloudwatch.set_alarm_state(AlarmName=ALARM, StateValue="ALARM", StateReason="5xx from the new fleet")
    rolled_back = wait_settled(sagemaker, "bg", timeout=600)
    assert time.monotonic() - started < 600  # the server start, not the bake
    assert rolled_back["EndpointStatus"] == "InService"
    assert rolled_back["EndpointConfigName"] == "bg-config"
    assert rolled_back["FailureReason"].startswith(
        f"update to bg-b-config rolled back (blue/green ALL_AT_ONCE; rollback alarms: {ALARM}): "
        f"alarm {ALARM} went to ALARM while the new fleet was baking"
    )

    sagemaker.delete_endpoint(EndpointName="bg")


def _endpoint_with(config: dict | None) -> SimpleNamespace:
    endpoint = SimpleNamespace()
    patches.record_deployment_config(endpoint, config)
    return endpoint


def test_a_rollout_is_read_from_the_last_deployment_config() -> None:
    rollout = Rollout.of(_endpoint_with(_blue_green(60)))
    assert rollout.alarms == [ALARM]
    assert rollout.phrase() == f" (blue/green ALL_AT_ONCE; rollback alarms: {ALARM})"
    assert rollout.bake_seconds({}) == DEFAULT_BAKE_CAP_SECONDS
    assert rollout.bake_seconds({BAKE_CAP_ENV: "3600"}) == 60

    plain = Rollout.of(_endpoint_with(None))
    assert (plain.routing, plain.alarms, plain.phrase(), plain.bake_seconds({BAKE_CAP_ENV: "3600"})) == (
        {},
        [],
        "",
        0.0,
    )


def test_a_bad_bake_cap_is_ignored() -> None:
    assert bake_cap({BAKE_CAP_ENV: "soon"}) == DEFAULT_BAKE_CAP_SECONDS
    assert bake_cap({BAKE_CAP_ENV: "-1"}) == DEFAULT_BAKE_CAP_SECONDS
    assert bake_cap({BAKE_CAP_ENV: "0"}) == 0.0
