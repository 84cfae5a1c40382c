"""vLLM containers on the emulator: real emulator, real model server in vLLM mode, real boto3.

A model whose container environment has SM_VLLM_MODEL (as Terraform renders it for
SERVING_BACKEND=vllm) is served by the model server speaking vLLM's API, with its SM_VLLM_*
variables as flags; InvokeEndpointWithResponseStream relays the vLLM stream byte for byte, and
a container's refusal is SageMaker's ModelError with the container's status and body.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import requests

from llm_twin.client.stream import payload_parts
from llm_twin.protocol.sse import iter_sse_data
from llm_twin_local.aws.daemon import LocalAws
from tests.conftest import client
from tests.support.model_server import Reference
from tests.support.runtime import deploy, server_of, wait_status
from tests.support.vllm_runtime import SERVED, VLLM_IMAGE, create_vllm

pytestmark = pytest.mark.stack

PROMPT = "Write a haiku about the cloud"
MESSAGES = [{"role": "user", "content": "Hi there"}]


@pytest.fixture(scope="module")
def vllm_endpoint(emulator: LocalAws, tiny_model: Path) -> dict:
    sagemaker = client(emulator.port, "sagemaker")
    create_vllm(sagemaker, "v", tiny_model)
    sagemaker.create_endpoint(EndpointName="v", EndpointConfigName="v-config")
    return wait_status(sagemaker, "v", "InService")


@pytest.fixture(scope="module")
def reference(tiny_model: Path) -> Reference:
    return Reference.load(tiny_model)


def stream(port: int, name: str, body: dict) -> bytes:
    """The bytes of InvokeEndpointWithResponseStream's PayloadParts, joined."""
    runtime = client(port, "sagemaker-runtime")
    answer = runtime.invoke_endpoint_with_response_stream(
        EndpointName=name, Body=json.dumps(body), ContentType="application/json"
    )
    return b"".join(payload_parts(answer["Body"]))


def test_a_vllm_container_is_served_and_described_as_such(vllm_endpoint: dict, tiny_model: Path) -> None:
    (image,) = vllm_endpoint["ProductionVariants"][0]["DeployedImages"]
    assert image["SpecifiedImage"] == VLLM_IMAGE
    assert image["ResolvedImage"] == f"llm-twin-model-server-vllm:{tiny_model}"


def test_a_completion_streams_through_boto3_as_vllm_wrote_it(
    emulator: LocalAws, vllm_endpoint: dict, reference: Reference
) -> None:
    body = {
        "prompt": PROMPT,
        "max_tokens": 10,
        "temperature": 0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    raw = stream(emulator.port, "v", body)
    data = list(iter_sse_data([raw]))
    assert data[-1] == "[DONE]" and raw.endswith(b"data: [DONE]\n\n")
    chunks = [json.loads(d) for d in data[:-1]]
    assert {c["model"] for c in chunks} == {SERVED}
    assert {c["object"] for c in chunks} == {"text_completion"}
    text = "".join(c["choices"][0]["text"] for c in chunks if c["choices"])
    expected = reference.greedy(reference.ids(PROMPT), 10)
    assert text == reference.text(expected)
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == len(expected)


def test_a_chat_streams_and_answers_through_both_apis(emulator: LocalAws, vllm_endpoint: dict) -> None:
    body = {"messages": MESSAGES, "max_tokens": 8, "temperature": 0}
    runtime = client(emulator.port, "sagemaker-runtime")
    whole = json.loads(
        runtime.invoke_endpoint(EndpointName="v", Body=json.dumps(body), ContentType="application/json")[
            "Body"
        ].read()
    )
    assert whole["object"] == "chat.completion" and whole["model"] == SERVED
    data = list(iter_sse_data([stream(emulator.port, "v", {**body, "stream": True})]))
    chunks = [json.loads(d) for d in data[:-1]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert (
        "".join(c["choices"][0]["delta"]["content"] for c in chunks[1:])
        == whole["choices"][0]["message"]["content"]
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"inputs": PROMPT, "parameters": {"max_new_tokens": 4}},
            "Cannot find suitable handler for request.",
        ),
        ({"prompt": PROMPT, "top_p": 1.5}, "top_p must be in (0, 1], got 1.5."),
    ],
)
@pytest.mark.parametrize("streamed", [False, True])
def test_a_refusal_is_a_model_error_with_the_containers_status_and_body(
    emulator: LocalAws, vllm_endpoint: dict, body: dict, message: str, streamed: bool
) -> None:
    runtime = client(emulator.port, "sagemaker-runtime")
    call = runtime.invoke_endpoint_with_response_stream if streamed else runtime.invoke_endpoint
    with pytest.raises(runtime.exceptions.ModelError) as caught:
        call(EndpointName="v", Body=json.dumps({**body, "stream": streamed}), ContentType="application/json")
    answer = caught.value.response
    assert answer["OriginalStatusCode"] == 400
    original = json.loads(answer["OriginalMessage"])
    assert original["error"]["type"] == "BadRequestError" and message in original["error"]["message"]
    assert "Received client error (400) from primary" in answer["Error"]["Message"]


def test_the_switch_from_tgi_to_vllm_serves_the_new_api(emulator: LocalAws, tiny_model: Path) -> None:
    sagemaker = client(emulator.port, "sagemaker")
    deploy(sagemaker, "sw", tiny_model)
    wait_status(sagemaker, "sw", "InService")
    runtime = client(emulator.port, "sagemaker-runtime")
    tgi_body = json.dumps({"inputs": PROMPT, "parameters": {"max_new_tokens": 2}})
    assert runtime.invoke_endpoint(EndpointName="sw", Body=tgi_body, ContentType="application/json")
    create_vllm(sagemaker, "sw-vllm", tiny_model)
    sagemaker.update_endpoint(EndpointName="sw", EndpointConfigName="sw-vllm-config")
    updated = wait_status(sagemaker, "sw", "InService")
    assert updated["EndpointConfigName"] == "sw-vllm-config"
    assert updated["ProductionVariants"][0]["DeployedImages"][0]["ResolvedImage"].startswith(
        "llm-twin-model-server-vllm:"
    )
    vllm_body = json.dumps({"prompt": PROMPT, "max_tokens": 2})
    answer = json.loads(
        runtime.invoke_endpoint(EndpointName="sw", Body=vllm_body, ContentType="application/json")[
            "Body"
        ].read()
    )
    assert answer["object"] == "text_completion" and answer["usage"]["completion_tokens"] == 2
    with pytest.raises(runtime.exceptions.ModelError, match="Cannot find suitable handler"):
        runtime.invoke_endpoint(EndpointName="sw", Body=tgi_body, ContentType="application/json")
    sagemaker.delete_endpoint(EndpointName="sw")


def test_opt_ml_model_without_model_data_fails_the_endpoint(emulator: LocalAws) -> None:
    sagemaker = client(emulator.port, "sagemaker")
    create_vllm(sagemaker, "nodata", "/opt/ml/model")
    sagemaker.create_endpoint(EndpointName="nodata", EndpointConfigName="nodata-config")
    failed = wait_status(sagemaker, "nodata", "Failed")
    assert "SM_VLLM_MODEL=/opt/ml/model names the model data" in failed["FailureReason"]
    assert "MODEL_DATA_S3_URI" in failed["FailureReason"]


def test_a_flag_the_server_does_not_know_fails_the_endpoint_as_vllm_would(
    emulator: LocalAws, tiny_model: Path
) -> None:
    sagemaker = client(emulator.port, "sagemaker")
    create_vllm(sagemaker, "badflag", tiny_model, SM_VLLM_NO_SUCH_OPTION="1")
    sagemaker.create_endpoint(EndpointName="badflag", EndpointConfigName="badflag-config")
    failed = wait_status(sagemaker, "badflag", "Failed")
    assert "exited with code 2" in failed["FailureReason"]


def normalized(raw: bytes) -> list[object]:
    """A stream's events with the per-request `id` and `created` blanked (all else as written)."""
    events = []
    for data in iter_sse_data([raw]):
        if data == "[DONE]":
            events.append(data)
            continue
        chunk = json.loads(data)
        chunk.update(id="-", created=0)
        events.append(chunk)
    return events


def test_the_stream_is_relayed_unchanged(emulator: LocalAws, vllm_endpoint: dict) -> None:
    """The same request sent to the container itself gives the same events, in the same bytes' order."""
    body = {
        "prompt": PROMPT,
        "max_tokens": 12,
        "temperature": 0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    relayed = stream(emulator.port, "v", body)
    command = Path(f"/proc/{server_of(emulator, 'v')}/cmdline").read_bytes().split(b"\0")
    port = int(command[command.index(b"--port") + 1])
    direct = requests.post(f"http://127.0.0.1:{port}/invocations", json=body, timeout=60).content
    assert normalized(relayed) == normalized(direct)
    # Byte for byte, once the two requests' ids and times are put aside.
    blank = re.compile(rb'"id":"cmpl-[0-9a-f]+","object":"text_completion","created":[0-9]+')
    assert blank.sub(b"", relayed) == blank.sub(b"", direct)


def test_a_failure_mid_stream_reaches_boto3_as_vllm_wrote_it(emulator: LocalAws, tiny_model: Path) -> None:
    sagemaker = client(emulator.port, "sagemaker")
    create_vllm(sagemaker, "vfail", tiny_model, LLM_TWIN_SERVER_FAULT="generation@2")
    sagemaker.create_endpoint(EndpointName="vfail", EndpointConfigName="vfail-config")
    wait_status(sagemaker, "vfail", "InService")
    raw = stream(
        emulator.port, "vfail", {"messages": MESSAGES, "max_tokens": 8, "temperature": 0, "stream": True}
    )
    *chunks, error, done = list(iter_sse_data([raw]))
    assert done == "[DONE]" and len(chunks) == 3  # the role chunk and two tokens
    assert json.loads(error)["error"]["type"] == "InternalServerError"
    assert b'data: {"error": {"message": "Request failed during generation: injected fault' in raw
    sagemaker.delete_endpoint(EndpointName="vfail")
