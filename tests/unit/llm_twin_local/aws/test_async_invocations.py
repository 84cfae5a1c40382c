"""InvokeEndpointAsync on the emulator, through boto3, the client and `infer --async`.

One private emulator and one async endpoint (created with boto3 directly) serve the
module; the model is a tiny checkpoint on disk.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from click.testing import CliRunner

from llm_twin.cli.main import main
from llm_twin.client.endpoint import (
    AsyncInvocation,
    LLMInferenceSagemakerEndpoint,
    async_bucket,
    runtime_config,
)
from llm_twin.control.credentials import write_credentials
from llm_twin.errors import AsyncInferenceError, AsyncTimeoutError, EndpointNotReadyError
from llm_twin_local.aws.async_invocations import output_locations
from llm_twin_local.aws.daemon import LocalAws, free_port
from llm_twin_local.model_server.checkpoint import create_sized_checkpoint
from tests.conftest import client

pytestmark = pytest.mark.stack

ROLE = "arn:aws:iam::123456789012:role/r"
BUCKET = "llm-twin-artifacts"
ASYNC_ENDPOINT = "llm-twin-async"
REALTIME_ENDPOINT = "llm-twin-realtime"
SEEDED = {"max_new_tokens": 12, "seed": 7}


def test_output_locations_follow_the_config() -> None:
    config = {"OutputConfig": {"S3OutputPath": "s3://b/out/", "S3FailurePath": "s3://b/failed"}}
    assert output_locations(config, "id1") == ("s3://b/out/id1.out", "s3://b/failed/id1-error.out")
    only_output = {"OutputConfig": {"S3OutputPath": "s3://b/out"}}
    assert output_locations(only_output, "id2") == ("s3://b/out/id2.out", "s3://b/out/id2-error.out")


def _wait_in_service(sagemaker, name: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = sagemaker.describe_endpoint(EndpointName=name)["EndpointStatus"]
        if status == "InService":
            return
        assert status in ("Creating", "Updating"), status
        time.sleep(0.2)
    raise AssertionError(f"{name} did not reach InService")


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAws]:
    emulator = LocalAws(tmp_path_factory.mktemp("async"), free_port())
    emulator.up()
    yield emulator
    emulator.down()


@pytest.fixture(scope="module")
def endpoint(emulator: LocalAws, tmp_path_factory: pytest.TempPathFactory) -> str:
    """An async endpoint serving a tiny model, and a real-time one with no container to start."""
    model_dir = create_sized_checkpoint(tmp_path_factory.mktemp("tiny"), "tiny")
    s3 = client(emulator.port, "s3")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
    sagemaker = client(emulator.port, "sagemaker")
    environment = {"HF_MODEL_ID": str(model_dir), "MAX_INPUT_TOKENS": "128", "MAX_TOTAL_TOKENS": "512"}
    sagemaker.create_model(
        ModelName="async-model",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": "tgi:1", "Environment": environment},
    )
    sagemaker.create_model(
        ModelName="plain-model", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "other:1"}
    )
    variant = {"VariantName": "AllTraffic", "InstanceType": "ml.g5.xlarge", "InitialInstanceCount": 1}
    sagemaker.create_endpoint_config(
        EndpointConfigName="async-config",
        ProductionVariants=[{**variant, "ModelName": "async-model"}],
        AsyncInferenceConfig={
            "ClientConfig": {"MaxConcurrentInvocationsPerInstance": 1},  # requests queue
            "OutputConfig": {
                "S3OutputPath": f"s3://{BUCKET}/async/output/",
                "S3FailurePath": f"s3://{BUCKET}/async/failure/",
            },
        },
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName="plain-config", ProductionVariants=[{**variant, "ModelName": "plain-model"}]
    )
    sagemaker.create_endpoint(EndpointName=ASYNC_ENDPOINT, EndpointConfigName="async-config")
    sagemaker.create_endpoint(EndpointName=REALTIME_ENDPOINT, EndpointConfigName="plain-config")
    _wait_in_service(sagemaker, ASYNC_ENDPOINT)
    return ASYNC_ENDPOINT


def _client(port: int, name: str = ASYNC_ENDPOINT) -> LLMInferenceSagemakerEndpoint:
    return LLMInferenceSagemakerEndpoint(name, _runtime(port), throttle_backoff=0)


def _runtime(port: int):
    session = boto3.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name="eu-central-1"
    )
    return session.client(
        "sagemaker-runtime", endpoint_url=f"http://127.0.0.1:{port}", config=runtime_config(30)
    )


def test_submit_then_poll_returns_the_generation(emulator: LocalAws, endpoint: str) -> None:
    s3 = client(emulator.port, "s3")
    llm = _client(emulator.port)
    llm.set_payload("The cloud is", SEEDED)
    bucket = async_bucket(client(emulator.port, "sagemaker"), endpoint)
    assert bucket == BUCKET

    invocation = llm.submit_async(s3, bucket)
    queued = llm.submit_async(s3, bucket)  # waits for the first: one at a time on this endpoint
    assert queued.inference_id != invocation.inference_id
    assert invocation.input_location.startswith(f"s3://{BUCKET}/async/input/")
    assert invocation.output_location == f"s3://{BUCKET}/async/output/{invocation.inference_id}.out"
    assert invocation.failure_location == f"s3://{BUCKET}/async/failure/{invocation.inference_id}-error.out"
    uploaded = json.loads(
        s3.get_object(Bucket=BUCKET, Key=invocation.input_location.split("/", 3)[3])["Body"].read()
    )
    assert uploaded["inputs"] == "The cloud is" and uploaded["parameters"]["details"] is True

    result = llm.wait_async(s3, invocation, timeout=120, first_delay=0.1)
    assert result.generated_tokens == 12 and result.finish_reason == "length"
    assert llm.wait_async(s3, queued, timeout=120, first_delay=0.1) == result  # same seed, same text
    # The same seeded request answered in real time gives the same text.
    assert result.text == llm.generate().text


def test_a_model_error_lands_in_the_failure_object(emulator: LocalAws, endpoint: str) -> None:
    s3 = client(emulator.port, "s3")
    llm = _client(emulator.port)
    llm.set_payload("x", {"max_new_tokens": 100_000})  # beyond MAX_TOTAL_TOKENS: TGI answers 422
    invocation = llm.submit_async(s3, BUCKET)
    with pytest.raises(AsyncInferenceError, match=r"failed: ModelError: .*422") as caught:
        llm.wait_async(s3, invocation, timeout=120, first_delay=0.1)
    assert invocation.failure_location in str(caught.value)
    with pytest.raises(ClientError, match="NoSuchKey"):
        s3.get_object(Bucket=BUCKET, Key=invocation.output_location.split("/", 3)[3])


def test_missing_input_and_non_async_endpoints_are_refused(emulator: LocalAws, endpoint: str) -> None:
    runtime = _runtime(emulator.port)
    with pytest.raises(ClientError, match="Could not access InputLocation"):
        runtime.invoke_endpoint_async(
            EndpointName=endpoint, InputLocation=f"s3://{BUCKET}/async/input/none.json"
        )
    with pytest.raises(ClientError, match="is not an asynchronous endpoint"):
        runtime.invoke_endpoint_async(EndpointName=REALTIME_ENDPOINT, InputLocation=f"s3://{BUCKET}/x.json")
    with pytest.raises(EndpointNotReadyError, match="set ASYNC_INFERENCE_ENABLED=true"):
        async_bucket(client(emulator.port, "sagemaker"), REALTIME_ENDPOINT)


def test_polling_gives_up_after_the_timeout(emulator: LocalAws) -> None:
    pending = AsyncInvocation(
        inference_id="never",
        input_location=f"s3://{BUCKET}/async/input/never.json",
        output_location=f"s3://{BUCKET}/async/output/never.out",
        failure_location=f"s3://{BUCKET}/async/failure/never-error.out",
    )
    polls: list[float] = []
    with pytest.raises(AsyncTimeoutError, match="wrote nothing within 1s; it may still finish"):
        _client(emulator.port).wait_async(
            client(emulator.port, "s3"), pending, timeout=1, first_delay=0.1, on_poll=polls.append
        )
    assert polls[:3] == [0.1, 0.2, 0.4]  # exponential backoff


def test_infer_async_cli(emulator: LocalAws, endpoint: str, tmp_path: Path) -> None:
    state_dir = emulator.dir.parent
    write_credentials(
        state_dir / "local" / "sagemaker_user_credentials.json",
        "test",
        "test",
        "arn:aws:iam::123456789012:user/d",
    )
    env = {"TARGET": "local", "LLM_TWIN_STATE_DIR": str(state_dir), "LOCAL_AWS_PORT": str(emulator.port)}
    runner = CliRunner()
    args = ["--env-file", str(tmp_path / "none.env"), "infer", "--endpoint", endpoint, "Hello"]
    result = runner.invoke(
        main, [*args, "--async", "--json", "--max-new-tokens", "5", "--temperature", "0"], env=env
    )
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert events[0]["event"] == "submitted" and events[0]["output_location"].endswith(".out")
    assert events[1]["event"] == "result" and events[1]["generated_tokens"] == 5

    refused = runner.invoke(main, [*args, "--async", "--chat"], env=env)
    assert (
        refused.exit_code == 2 and "--async sends a generate body, not a chat; drop --chat" in refused.output
    )
