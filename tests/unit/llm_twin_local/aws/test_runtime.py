"""The local SageMaker runtime: real emulator, real model-server subprocesses, real boto3.

One private emulator per module (they mutate); the model is a tiny checkpoint on disk,
named by HF_MODEL_ID, so no stand-in has to be made here (the applied stack covers that).
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from llm_twin.client.endpoint import LLMInferenceSagemakerEndpoint, runtime_config
from llm_twin.client.stream import parse_generate_stream, payload_parts
from llm_twin.errors import EndpointFailedError, EndpointNotReadyError, ModelStreamError, ValidationError
from llm_twin_local.aws.daemon import LocalAws, free_port
from llm_twin_local.model_server.checkpoint import create_sized_checkpoint
from tests.conftest import client

pytestmark = pytest.mark.stack

ROLE = "arn:aws:iam::123456789012:role/r"
GREEDY = {"max_new_tokens": 24, "do_sample": False, "details": True}


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_status(sagemaker, name: str, wanted: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = sagemaker.describe_endpoint(EndpointName=name)
        if answer["EndpointStatus"] == wanted:
            return answer
        time.sleep(0.2)
    raise AssertionError(f"{name} is {answer['EndpointStatus']}, not {wanted}: {answer.get('FailureReason')}")


def _deploy(
    sagemaker, name: str, model_dir: Path | str, *, model_data: dict | None = None, **env: str
) -> None:
    _configure(sagemaker, name, model_dir, model_data=model_data, **env)
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-config")


def _configure(
    sagemaker, name: str, model_dir: Path | str, *, model_data: dict | None = None, **env: str
) -> None:
    """Model `<name>-model` and endpoint config `<name>-config` serving `model_dir` with `env`
    (and the container's `ModelDataSource`, when given)."""
    environment = {"HF_MODEL_ID": str(model_dir), "MAX_INPUT_TOKENS": "128", "MAX_TOTAL_TOKENS": "512", **env}
    container = {"Image": "tgi:1", "Environment": environment}
    if model_data is not None:
        container["ModelDataSource"] = model_data
    sagemaker.create_model(ModelName=f"{name}-model", ExecutionRoleArn=ROLE, PrimaryContainer=container)
    sagemaker.create_endpoint_config(
        EndpointConfigName=f"{name}-config",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": f"{name}-model",
                "InstanceType": "ml.g5.xlarge",
                "InitialInstanceCount": 1,
            }
        ],
    )


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return create_sized_checkpoint(tmp_path_factory.mktemp("tiny"), "tiny")


def _emulator(tmp_path_factory: pytest.TempPathFactory, **env: str) -> Iterator[LocalAws]:
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    emulator = LocalAws(tmp_path_factory.mktemp("runtime"), free_port())
    try:
        emulator.up()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    yield emulator
    pid = emulator.status().pid
    servers = _children(pid) if pid else set()
    emulator.down()
    # No model server outlives the emulator.
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in servers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in servers if _alive(p)]


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAws]:
    yield from _emulator(tmp_path_factory)


@pytest.fixture(scope="module")
def endpoint(emulator: LocalAws, tiny_model: Path) -> dict:
    """One endpoint, created directly with boto3; its first DescribeEndpoint is kept."""
    sagemaker = client(emulator.port, "sagemaker")
    _deploy(sagemaker, "e", tiny_model, MESSAGES_API_ENABLED="true")
    first = sagemaker.describe_endpoint(EndpointName="e")
    return {"first": first, "ready": _wait_status(sagemaker, "e", "InService")}


def _stream_events(port: int, name: str, parameters: dict) -> tuple[list, int]:
    runtime = client(port, "sagemaker-runtime")
    body = json.dumps({"inputs": "Write a haiku about the cloud", "parameters": parameters, "stream": True})
    response = runtime.invoke_endpoint_with_response_stream(
        EndpointName=name, Body=body, ContentType="application/json"
    )
    parts = list(payload_parts(response["Body"]))
    return list(parse_generate_stream(parts)), len(parts)


def test_endpoint_is_creating_until_the_server_answers_then_in_service(
    endpoint: dict, tiny_model: Path
) -> None:
    assert endpoint["first"]["EndpointStatus"] == "Creating"
    ready = endpoint["ready"]
    assert ready["EndpointStatus"] == "InService"
    image = ready["ProductionVariants"][0]["DeployedImages"][0]
    assert image["SpecifiedImage"] == "tgi:1"
    assert image["ResolvedImage"] == f"llm-twin-model-server:{tiny_model}"


def test_streamed_tokens_equal_the_invoked_text(emulator: LocalAws, endpoint: dict) -> None:
    runtime = client(emulator.port, "sagemaker-runtime")
    body = json.dumps({"inputs": "Write a haiku about the cloud", "parameters": GREEDY})
    answer = runtime.invoke_endpoint(EndpointName="e", Body=body, ContentType="application/json")
    assert answer["ResponseMetadata"]["HTTPHeaders"]["x-amzn-invoked-production-variant"] == "AllTraffic"
    text = json.loads(answer["Body"].read())[0]["generated_text"]
    events, _ = _stream_events(emulator.port, "e", GREEDY)
    assert "".join(e.token.text for e in events if not e.token.special) == text
    assert events[-1].generated_text == text and events[-1].details.generated_tokens == len(events)


def test_sampling_with_a_seed_is_reproducible_through_both_apis(emulator: LocalAws, endpoint: dict) -> None:
    parameters = {"max_new_tokens": 16, "do_sample": True, "temperature": 0.9, "seed": 7}
    sdk = LLMInferenceSagemakerEndpoint("e", client(emulator.port, "sagemaker-runtime"))
    sdk.set_payload("Write a haiku about the cloud", parameters)
    *_, result = sdk.stream()
    assert result.text == sdk.inference()


def test_chunk_jitter_yields_identical_events(
    tmp_path_factory: pytest.TempPathFactory, emulator: LocalAws, endpoint: dict, tiny_model: Path
) -> None:
    expected, plain_parts = _stream_events(emulator.port, "e", GREEDY)
    jittery = _emulator(tmp_path_factory, LLM_TWIN_CHUNK_JITTER="1", LLM_TWIN_CHUNK_JITTER_SEED="3")
    other = next(jittery)
    try:
        sagemaker = client(other.port, "sagemaker")
        _deploy(sagemaker, "e", tiny_model)
        _wait_status(sagemaker, "e", "InService")
        events, jitter_parts = _stream_events(other.port, "e", GREEDY)
    finally:
        next(jittery, None)
    assert events == expected
    assert jitter_parts > 3 * plain_parts


def test_unknown_endpoint_is_aws_validation_error(emulator: LocalAws) -> None:
    runtime = client(emulator.port, "sagemaker-runtime")
    with pytest.raises(ClientError) as caught:
        runtime.invoke_endpoint_with_response_stream(EndpointName="nope", Body=b"{}")
    assert caught.value.response["Error"] == {
        "Code": "ValidationError",
        "Message": "Endpoint nope of account 123456789012 not found.",
    }


def test_container_errors_are_model_errors(emulator: LocalAws, endpoint: dict) -> None:
    runtime = client(emulator.port, "sagemaker-runtime")
    body = json.dumps({"inputs": "hi", "parameters": {"max_new_tokens": 100000}})
    with pytest.raises(runtime.exceptions.ModelError) as caught:
        runtime.invoke_endpoint(EndpointName="e", Body=body, ContentType="application/json")
    assert caught.value.response["OriginalStatusCode"] == 422
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 424


def test_not_in_service_is_refused_and_delete_stops_the_server(emulator: LocalAws, tiny_model: Path) -> None:
    sagemaker = client(emulator.port, "sagemaker")
    before = _children(emulator.status().pid)
    _deploy(sagemaker, "slow", tiny_model)
    sdk = LLMInferenceSagemakerEndpoint("slow", client(emulator.port, "sagemaker-runtime"))
    sdk.set_payload("hi", {"max_new_tokens": 2})
    with pytest.raises(EndpointNotReadyError, match="status Creating"):
        sdk.inference()
    _wait_status(sagemaker, "slow", "InService")
    (server,) = _children(emulator.status().pid) - before
    sagemaker.delete_endpoint(EndpointName="slow")
    deadline = time.monotonic() + 10
    while _alive(server) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(server)


def test_a_killed_server_breaks_the_stream_and_fails_the_endpoint(
    emulator: LocalAws, tiny_model: Path
) -> None:
    sagemaker = client(emulator.port, "sagemaker")
    before = _children(emulator.status().pid)
    _deploy(sagemaker, "doomed", tiny_model)
    _wait_status(sagemaker, "doomed", "InService")
    (server,) = _children(emulator.status().pid) - before
    sdk = LLMInferenceSagemakerEndpoint("doomed", client(emulator.port, "sagemaker-runtime"))
    sdk.set_payload("Write a haiku", {"max_new_tokens": 400, "do_sample": False})
    stream = sdk.stream()
    next(stream)
    os.kill(server, signal.SIGKILL)
    with pytest.raises(ModelStreamError) as caught:
        for _ in stream:
            pass
    assert "InternalStreamFailure" in str(caught.value)
    failed = _wait_status(sagemaker, "doomed", "Failed")
    assert "exited with code -9" in failed["FailureReason"]
    with pytest.raises(EndpointFailedError, match="exited with code -9"):
        sdk.inference()
    # As on AWS, a Failed endpoint accepts DeleteEndpoint only (botocore's EndpointStatus documentation).
    with pytest.raises(ClientError, match="ValidationException.*in status Failed: it can only be deleted"):
        sagemaker.update_endpoint(EndpointName="doomed", EndpointConfigName="doomed-config")


def test_update_serves_throughout_switches_servers_and_rolls_back_a_broken_config(
    emulator: LocalAws, tiny_model: Path
) -> None:
    """A: 128 input tokens; B: 16, so a long prompt tells which config serves; C cannot start."""
    sagemaker = client(emulator.port, "sagemaker")
    before = _children(emulator.status().pid)
    _deploy(sagemaker, "up", tiny_model)
    _wait_status(sagemaker, "up", "InService")
    (old,) = _children(emulator.status().pid) - before
    sdk = LLMInferenceSagemakerEndpoint("up", client(emulator.port, "sagemaker-runtime"))
    long_prompt = "the cloud " * 20

    _configure(sagemaker, "up-b", tiny_model, MAX_INPUT_TOKENS="16")
    sagemaker.update_endpoint(EndpointName="up", EndpointConfigName="up-b-config")
    assert sagemaker.describe_endpoint(EndpointName="up")["EndpointStatus"] == "Updating"
    sdk.set_payload(long_prompt, {"max_new_tokens": 2})
    assert sdk.generate().generated_tokens  # still config A, on the old server (text may be empty)

    updated = _wait_status(sagemaker, "up", "InService")
    assert updated["EndpointConfigName"] == "up-b-config" and "FailureReason" not in updated
    (new,) = _children(emulator.status().pid) - before - {old}
    deadline = time.monotonic() + 10
    while _alive(old) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(old) and _alive(new)
    with pytest.raises(ValidationError):
        sdk.inference()  # config B refuses the long prompt
    sdk.set_payload("hi", {"max_new_tokens": 2})
    assert sdk.generate().generated_tokens

    _configure(sagemaker, "up-c", tiny_model, MAX_INPUT_TOKENS="600")  # not < MAX_TOTAL_TOKENS: exits
    sagemaker.update_endpoint(EndpointName="up", EndpointConfigName="up-c-config")
    assert sagemaker.describe_endpoint(EndpointName="up")["EndpointStatus"] == "Updating"
    rolled_back = _wait_settled(sagemaker, "up")
    assert rolled_back["EndpointStatus"] == "InService"
    assert rolled_back["EndpointConfigName"] == "up-b-config"
    assert rolled_back["FailureReason"].startswith("update to up-c-config rolled back: ")
    assert "exited with code" in rolled_back["FailureReason"]
    assert _alive(new) and sdk.generate().generated_tokens
    sagemaker.delete_endpoint(EndpointName="up")


def _wait_settled(
    sagemaker, name: str, timeout: float = 60, pending: tuple[str, ...] = ("Updating", "RollingBack")
) -> dict:
    """The endpoint once its status is no longer one of `pending` (it may have failed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = sagemaker.describe_endpoint(EndpointName=name)
        if answer["EndpointStatus"] not in pending:
            return answer
        time.sleep(0.2)
    raise AssertionError(f"{name} is still {answer['EndpointStatus']}")


def test_runtime_client_never_retries_by_itself() -> None:
    config = runtime_config(read_timeout=5)
    assert config.retries == {"total_max_attempts": 1, "mode": "standard"}
    assert config.read_timeout == 5
