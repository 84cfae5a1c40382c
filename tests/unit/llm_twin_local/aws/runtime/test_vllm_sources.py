"""A vLLM container whose SM_VLLM_MODEL is /opt/ml/model: the model's ModelDataSource, as SageMaker
mounts it there (AWS's vLLM DLC docs: the model is SM_VLLM_MODEL, or /opt/ml/model when mounted).

The checkpoint is pushed to the emulator's S3 by `ModelStore`, as `llm-twin model push` does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from llm_twin.control.models.store import ModelStore
from llm_twin.protocol.checkpoints import inspect_checkpoint
from llm_twin.protocol.sse import iter_sse_data
from llm_twin_local.aws.daemon import LocalAws
from tests.conftest import client, emulator_with_bucket
from tests.support.model_server import Reference
from tests.support.runtime import wait_settled
from tests.support.vllm_runtime import create_vllm

pytestmark = pytest.mark.stack

BUCKET = "llm-twin-vllm-artifacts"


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAws]:
    with emulator_with_bucket(tmp_path_factory.mktemp("vllm-s3"), BUCKET) as emulator:
        yield emulator


def test_opt_ml_model_serves_the_model_data(emulator: LocalAws, tiny_model: Path) -> None:
    pushed = ModelStore(client(emulator.port, "s3"), BUCKET).push(
        inspect_checkpoint(tiny_model), "tiny", "v1"
    )
    sagemaker = client(emulator.port, "sagemaker")
    # No served model name: vLLM then names the model as --model gave it.
    create_vllm(
        sagemaker, "from-s3", "/opt/ml/model", model_data_uri=pushed.uri, SM_VLLM_SERVED_MODEL_NAME=""
    )
    sagemaker.create_endpoint(EndpointName="from-s3", EndpointConfigName="from-s3-config")
    described = wait_settled(sagemaker, "from-s3", timeout=180, pending=("Creating",))
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    image = described["ProductionVariants"][0]["DeployedImages"][0]["ResolvedImage"]
    assert image == f"llm-twin-model-server-vllm:{pushed.uri}"

    runtime = client(emulator.port, "sagemaker-runtime")
    body = {"prompt": "Hello", "max_tokens": 8, "temperature": 0, "stream": True}
    answer = runtime.invoke_endpoint_with_response_stream(
        EndpointName="from-s3", Body=json.dumps(body), ContentType="application/json"
    )
    raw = b"".join(e["PayloadPart"]["Bytes"] for e in answer["Body"] if "PayloadPart" in e)
    *chunks, done = list(iter_sse_data([raw]))
    assert done == "[DONE]"
    assert {json.loads(c)["model"] for c in chunks} == {"/opt/ml/model"}
    reference = Reference.load(tiny_model)
    text = "".join(json.loads(c)["choices"][0]["text"] for c in chunks)
    assert text == reference.text(reference.greedy(reference.ids("Hello"), 8))
