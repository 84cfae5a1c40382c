"""A vLLM container naming a Hub repo in SM_VLLM_MODEL: the same download and stand-in as TGI's.

The fake Hub on loopback is the container's HF_ENDPOINT, as in test_hub; SM_VLLM_REVISION pins
the commit. An unreachable Hub serves the stand-in, which speaks vLLM's API here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from llm_twin_local.aws.daemon import LocalAws
from llm_twin_local.aws.runtime.progress import fetch_serving_model
from llm_twin_local.aws.runtime.sources import VLLM_STAND_IN_IMAGE
from llm_twin_local.model_server.checkpoint import create_test_checkpoint
from tests.conftest import client
from tests.support import refused_endpoint
from tests.support.hub_server import FakeHub, HubRepo
from tests.support.runtime import running_emulator, wait_settled
from tests.support.vllm_runtime import SERVED, deploy_vllm

pytestmark = pytest.mark.stack

TINY = "llm-twin/tiny"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeHub]:
    root = tmp_path_factory.mktemp("vllm-hub-repos")
    main, v1 = create_test_checkpoint(root / "main", seed=2), create_test_checkpoint(root / "v1", seed=1)
    with FakeHub({TINY: HubRepo({"main": main, "v1": v1})}) as fake:
        yield fake


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAws]:
    cache = tmp_path_factory.mktemp("vllm-hf-cache")
    environment = {
        "HF_HUB_CACHE": str(cache),
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    }
    with running_emulator(tmp_path_factory.mktemp("vllm-hub-runtime"), **environment) as running:
        yield running


def settle(port: int, name: str, model: str, **env: str) -> dict:
    sagemaker = client(port, "sagemaker")
    deploy_vllm(sagemaker, name, model, **env)
    return wait_settled(sagemaker, name, timeout=120, pending=("Creating",))


def complete(port: int, name: str) -> dict:
    runtime = client(port, "sagemaker-runtime")
    body = json.dumps({"prompt": "The cloud", "max_tokens": 3})
    return json.loads(
        runtime.invoke_endpoint(EndpointName=name, Body=body, ContentType="application/json")["Body"].read()
    )


def test_the_revision_named_is_downloaded_and_served(emulator: LocalAws, hub: FakeHub) -> None:
    described = settle(emulator.port, "pinned", TINY, HF_ENDPOINT=hub.url, SM_VLLM_REVISION="v1")
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    image = described["ProductionVariants"][0]["DeployedImages"][0]["ResolvedImage"]
    assert image == f"llm-twin-model-server-vllm:{TINY}@{hub.commit(TINY, 'v1')}"
    assert any(f"/{TINY}/resolve/{hub.commit(TINY, 'v1')}/" in r.path for r in hub.requests())
    answer = complete(emulator.port, "pinned")
    assert answer["model"] == SERVED and answer["usage"]["completion_tokens"] == 3


def test_an_unreachable_hub_serves_the_stand_in_speaking_vllm(emulator: LocalAws) -> None:
    with refused_endpoint() as url:
        described = settle(emulator.port, "fallback", TINY, HF_ENDPOINT=url)
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    assert described["ProductionVariants"][0]["DeployedImages"][0]["ResolvedImage"] == VLLM_STAND_IN_IMAGE
    model = fetch_serving_model(f"http://127.0.0.1:{emulator.port}", "fallback")
    assert model is not None and model.stand_in and model.model_id == TINY
    assert model.api == "vllm"  # what `llm-twin status` can show as the backend serving
    assert complete(emulator.port, "fallback")["object"] == "text_completion"
