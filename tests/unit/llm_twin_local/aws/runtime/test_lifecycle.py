"""Endpoints through CreateEndpoint, UpdateEndpoint and DeleteEndpoint: real emulator, real servers, real boto3.

The model is a tiny checkpoint on disk, named by HF_MODEL_ID, so no stand-in has to be
made here (the applied stack covers that).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from llm_twin.client.endpoint import LLMInferenceSagemakerEndpoint
from llm_twin.errors import EndpointFailedError, EndpointNotReadyError, ModelStreamError, ValidationError
from llm_twin_local.aws.daemon import LocalAws
from tests.conftest import client
from tests.support.runtime import alive, children, configure, deploy, wait_settled, wait_status

pytestmark = pytest.mark.stack


def test_endpoint_is_creating_until_the_server_answers_then_in_service(
    endpoint: dict, tiny_model: Path
) -> None:
    assert endpoint["first"]["EndpointStatus"] == "Creating"
    ready = endpoint["ready"]
    assert ready["EndpointStatus"] == "InService"
    image = ready["ProductionVariants"][0]["DeployedImages"][0]
    assert image["SpecifiedImage"] == "tgi:1"
    assert image["ResolvedImage"] == f"llm-twin-model-server:{tiny_model}"


def test_not_in_service_is_refused_and_delete_stops_the_server(emulator: LocalAws, tiny_model: Path) -> None:
    sagemaker = client(emulator.port, "sagemaker")
    before = children(emulator.status().pid)
    deploy(sagemaker, "slow", tiny_model)
    sdk = LLMInferenceSagemakerEndpoint(
        "slow", client(emulator.port, "sagemaker-runtime"), sagemaker_client=sagemaker
    )
    sdk.set_payload("hi", {"max_new_tokens": 2})
    with pytest.raises(EndpointNotReadyError, match="status Creating"):
        sdk.inference()
    wait_status(sagemaker, "slow", "InService")
    (server,) = children(emulator.status().pid) - before
    sagemaker.delete_endpoint(EndpointName="slow")
    deadline = time.monotonic() + 10
    while alive(server) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(server)


def test_a_killed_server_breaks_the_stream_and_fails_the_endpoint(
    emulator: LocalAws, tiny_model: Path
) -> None:
    sagemaker = client(emulator.port, "sagemaker")
    before = children(emulator.status().pid)
    deploy(sagemaker, "doomed", tiny_model)
    wait_status(sagemaker, "doomed", "InService")
    (server,) = children(emulator.status().pid) - before
    sdk = LLMInferenceSagemakerEndpoint(
        "doomed", client(emulator.port, "sagemaker-runtime"), sagemaker_client=sagemaker
    )
    sdk.set_payload("Write a haiku", {"max_new_tokens": 400, "do_sample": False})
    stream = sdk.stream()
    next(stream)
    os.kill(server, signal.SIGKILL)
    with pytest.raises(ModelStreamError) as caught:
        for _ in stream:
            pass
    assert "InternalStreamFailure" in str(caught.value)
    failed = wait_status(sagemaker, "doomed", "Failed")
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
    before = children(emulator.status().pid)
    deploy(sagemaker, "up", tiny_model)
    wait_status(sagemaker, "up", "InService")
    (old,) = children(emulator.status().pid) - before
    sdk = LLMInferenceSagemakerEndpoint("up", client(emulator.port, "sagemaker-runtime"))
    long_prompt = "the cloud " * 20

    configure(sagemaker, "up-b", tiny_model, MAX_INPUT_TOKENS="16")
    sagemaker.update_endpoint(EndpointName="up", EndpointConfigName="up-b-config")
    assert sagemaker.describe_endpoint(EndpointName="up")["EndpointStatus"] == "Updating"
    sdk.set_payload(long_prompt, {"max_new_tokens": 2})
    assert sdk.generate().generated_tokens  # still config A, on the old server (text may be empty)

    updated = wait_status(sagemaker, "up", "InService")
    assert updated["EndpointConfigName"] == "up-b-config" and "FailureReason" not in updated
    (new,) = children(emulator.status().pid) - before - {old}
    deadline = time.monotonic() + 10
    while alive(old) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(old) and alive(new)
    with pytest.raises(ValidationError):
        sdk.inference()  # config B refuses the long prompt
    sdk.set_payload("hi", {"max_new_tokens": 2})
    assert sdk.generate().generated_tokens

    configure(sagemaker, "up-c", tiny_model, MAX_INPUT_TOKENS="600")  # not < MAX_TOTAL_TOKENS: exits
    sagemaker.update_endpoint(EndpointName="up", EndpointConfigName="up-c-config")
    assert sagemaker.describe_endpoint(EndpointName="up")["EndpointStatus"] == "Updating"
    rolled_back = wait_settled(sagemaker, "up")
    assert rolled_back["EndpointStatus"] == "InService"
    assert rolled_back["EndpointConfigName"] == "up-b-config"
    assert rolled_back["FailureReason"].startswith("update to up-c-config rolled back: ")
    assert "exited with code" in rolled_back["FailureReason"]
    assert alive(new) and sdk.generate().generated_tokens
    sagemaker.delete_endpoint(EndpointName="up")
