"""Safe rollout, its alarms, the scale-in schedule and async inference, applied for real.

One private stack has every switch on (module fixture, one fresh apply); the read-only
checks run first, then an update with a broken model (rolled back), then everything off.
The session's shared stack shows the defaults.
"""

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from llm_twin.cli.main import main
from llm_twin.control.deploy.deployment import Deployment
from llm_twin.control.tf import messages as progress
from llm_twin.errors import RolloutRolledBackError
from tests.conftest import client, private_target, settings_for

pytestmark = pytest.mark.stack

ENDPOINT = "llm-twin-endpoint"
ALARMS = {
    f"{ENDPOINT}-invocation-5xx-errors": ("Invocation5XXErrors", "Sum", None),
    f"{ENDPOINT}-model-latency-p99": ("ModelLatency", None, "p99"),
    f"{ENDPOINT}-model-setup-time": ("ModelSetupTime", "Maximum", None),
}
EVERYTHING_ON = {
    "ROLLOUT_MODE": "canary",
    "ROLLOUT_CANARY_PERCENT": "20",
    "ROLLOUT_WAIT_SECONDS": "0",
    "ALARM_LATENCY_P99_MS": "45000",
    "AUTOSCALING_ENABLED": "true",
    "AUTOSCALING_MIN_CAPACITY": "1",
    "AUTOSCALING_MAX_CAPACITY": "3",
    "SCHEDULED_SCALE_IN": "true",
    "SCHEDULE_TIMEZONE": "Europe/Berlin",
    "ASYNC_INFERENCE_ENABLED": "true",
}
EVERYTHING_OFF = {
    "ROLLOUT_MODE": "none",
    "ALARM_5XX_ENABLED": "false",
    "ALARM_LATENCY_P99_ENABLED": "false",
    "ALARM_SETUP_TIME_ENABLED": "false",
    "SCHEDULED_SCALE_IN": "false",
    "ASYNC_INFERENCE_ENABLED": "false",
}


@pytest.fixture(scope="module")
def rollout_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with private_target(tmp_path_factory.mktemp("rollout") / "state", **EVERYTHING_ON) as env:
        Deployment(settings_for(env)).apply()
        yield env


def _planned_endpoint_changes(env: dict[str, str]) -> list[progress.PlannedChange]:
    events: list[progress.ProgressEvent] = []
    Deployment(settings_for(env), on_event=events.append).plan(detailed_exitcode=True)
    # Scoped to the endpoint module, which this feature owns; the s3 and ecr modules have their own test.
    return [
        e
        for e in events
        if isinstance(e, progress.PlannedChange) and e.addr.startswith("module.sagemaker_endpoint.")
    ]


def _status(env: dict[str, str]) -> str:
    result = CliRunner().invoke(main, ["--env-file", "/nonexistent/.env", "status"], env=env)
    assert result.exit_code == 0, result.output
    return result.output


def test_everything_on_reads_back_as_applied(rollout_env: dict[str, str]) -> None:
    assert _planned_endpoint_changes(rollout_env) == []

    port = rollout_env["LOCAL_AWS_PORT"]
    endpoint = client(port, "sagemaker").describe_endpoint(EndpointName=ENDPOINT)
    deployment_config = endpoint["LastDeploymentConfig"]
    routing = deployment_config["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing == {
        "Type": "CANARY",
        "WaitIntervalInSeconds": 0,
        "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 20},
    }
    rollback = {a["AlarmName"] for a in deployment_config["AutoRollbackConfiguration"]["Alarms"]}
    assert rollback == set(ALARMS)

    alarms = client(port, "cloudwatch").describe_alarms(AlarmNames=list(ALARMS))["MetricAlarms"]
    assert {a["AlarmName"] for a in alarms} == set(ALARMS)
    for alarm in alarms:
        metric, statistic, extended = ALARMS[alarm["AlarmName"]]
        assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/SageMaker", metric)
        assert alarm.get("Statistic") == statistic and alarm.get("ExtendedStatistic") == extended
        assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {
            "EndpointName": ENDPOINT,
            "VariantName": "AllTraffic",
        }
    latency = next(a for a in alarms if a["MetricName"] == "ModelLatency")
    assert latency["Threshold"] == 45000 * 1000  # ModelLatency is in microseconds

    actions = client(port, "application-autoscaling").describe_scheduled_actions(ServiceNamespace="sagemaker")
    by_name = {a["ScheduledActionName"]: a for a in actions["ScheduledActions"]}
    scale_in, scale_out = by_name[f"{ENDPOINT}-scale-in"], by_name[f"{ENDPOINT}-scale-out"]
    assert scale_in["Schedule"] == "cron(0 19 ? * MON-FRI *)" and scale_in["Timezone"] == "Europe/Berlin"
    assert scale_in["ScalableTargetAction"] == {"MinCapacity": 1, "MaxCapacity": 1}
    assert scale_out["ScalableTargetAction"] == {"MinCapacity": 1, "MaxCapacity": 3}
    assert scale_in["ResourceId"] == f"endpoint/{ENDPOINT}/variant/AllTraffic"

    outputs = Deployment(settings_for(rollout_env)).outputs()
    config = client(port, "sagemaker").describe_endpoint_config(
        EndpointConfigName=endpoint["EndpointConfigName"]
    )
    async_config = config["AsyncInferenceConfig"]
    assert async_config["OutputConfig"]["S3OutputPath"] == outputs["async_output_s3_uri"].value
    assert outputs["async_output_s3_uri"].value.endswith("/async/output/")
    assert async_config["ClientConfig"]["MaxConcurrentInvocationsPerInstance"] == 4


def test_status_shows_the_rollout_the_alarm_states_and_the_async_path(rollout_env: dict[str, str]) -> None:
    shown = _status(rollout_env)
    assert "status:   InService" in shown
    assert "rollout:  blue/green CANARY 20% every 0s" in shown
    assert "variant:  AllTraffic (1 instances, desired 1)" in shown
    assert "async:    s3://llm-twin-artifacts-123456789012-eu-central-1/async/output/" in shown
    for name in ALARMS:
        assert f"alarm:    {name} OK" in shown
    assert "ModelLatency p99" in shown


def test_a_broken_model_is_rolled_back_and_status_shows_it(
    rollout_env: dict[str, str], tmp_path: Path
) -> None:
    serving_before = client(rollout_env["LOCAL_AWS_PORT"], "sagemaker").describe_endpoint(
        EndpointName=ENDPOINT
    )["EndpointConfigName"]
    not_a_model = tmp_path / "not-a-model"  # a directory without config.json: the server exits at once
    not_a_model.mkdir()
    broken = {**rollout_env, "HF_MODEL_ID": str(not_a_model)}

    deployment = Deployment(settings_for(broken))
    with pytest.raises(RolloutRolledBackError, match=f"still serves {serving_before}") as caught:
        deployment.apply()
    assert caught.value.exit_code == 1
    assert stat.S_IMODE(deployment.rollouts_path.stat().st_mode) == 0o600

    shown = _status(broken)
    assert f"config:   {serving_before} (serving)" in shown
    assert "desired:  " in shown and "(Terraform's; not serving)" in shown
    assert f"previous: {serving_before} (last rollout rolled back at " in shown
    assert "rolled back (blue/green CANARY; rollback alarms: " in shown
    assert "status:   InService" in shown


def test_everything_off_removes_the_alarms_schedule_rollout_and_async(rollout_env: dict[str, str]) -> None:
    off = {**rollout_env, **EVERYTHING_OFF}
    result = Deployment(settings_for(off)).apply()
    assert result.outputs["alarm_names"] == [] and result.outputs["scheduled_action_names"] == []
    assert result.outputs.get("async_output_s3_uri") is None

    port = off["LOCAL_AWS_PORT"]
    endpoint = client(port, "sagemaker").describe_endpoint(EndpointName=ENDPOINT)
    assert "LastDeploymentConfig" not in endpoint
    config = client(port, "sagemaker").describe_endpoint_config(
        EndpointConfigName=endpoint["EndpointConfigName"]
    )
    assert "AsyncInferenceConfig" not in config
    assert client(port, "cloudwatch").describe_alarms(AlarmNamePrefix=ENDPOINT)["MetricAlarms"] == []
    scaling = client(port, "application-autoscaling")
    assert scaling.describe_scheduled_actions(ServiceNamespace="sagemaker")["ScheduledActions"] == []
    assert len(scaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]) == 1


def test_the_default_stack_rolls_out_all_at_once_watched_by_three_alarms(applied_stack: Deployment) -> None:
    port = applied_stack.settings.local.port
    endpoint = client(port, "sagemaker").describe_endpoint(EndpointName=ENDPOINT)
    routing = endpoint["LastDeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing["Type"] == "ALL_AT_ONCE" and "CanarySize" not in routing
    alarms = client(port, "cloudwatch").describe_alarms(AlarmNamePrefix=ENDPOINT)["MetricAlarms"]
    assert {a["AlarmName"] for a in alarms} == set(ALARMS)
    scaling = client(port, "application-autoscaling")
    assert scaling.describe_scheduled_actions(ServiceNamespace="sagemaker")["ScheduledActions"] == []
