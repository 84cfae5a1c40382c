"""`llm-twin status` names the backend the deployed model runs, read back from SageMaker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from llm_twin.config.credentials import Credentials
from llm_twin.control.aws import AwsClients
from llm_twin.control.deploy.status import backend_of, serving_backends
from llm_twin_local.aws.daemon import LocalAws, free_port
from tests.conftest import client
from tests.support.runtime import create_model_and_config

VLLM_IMAGE = "763104351884.dkr.ecr.eu-central-1.amazonaws.com/huggingface-vllm:0.29.0-transformers5.15.0-gpu-py312-cu130-ubuntu24.04-v1.0"
TGI_IMAGE = "763104351884.dkr.ecr.eu-central-1.amazonaws.com/huggingface-pytorch-tgi-inference:2.7.0-tgi3.3.6-gpu-py311-cu124-ubuntu22.04"


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAws]:
    aws = LocalAws(tmp_path_factory.mktemp("status") / "state", free_port())
    aws.up()
    try:
        yield aws
    finally:
        aws.down()


def _deploy_config(port: int, name: str, image: str, environment: dict[str, str]) -> str:
    """A model and an endpoint config as Terraform makes them (no endpoint: nothing is served)."""
    container = {"Image": image, "Environment": environment}
    create_model_and_config(client(port, "sagemaker"), name, container, "ml.g5.2xlarge")
    return f"{name}-config"


def _clients(port: int) -> AwsClients:
    return AwsClients(Credentials("test", "test"), "eu-central-1", f"http://127.0.0.1:{port}")


def test_a_vllm_model_reads_back_as_vllm(emulator: LocalAws) -> None:
    config = _deploy_config(
        emulator.port, "v", VLLM_IMAGE, {"SM_VLLM_MODEL": "owner/model", "SM_VLLM_HOST": "0.0.0.0"}
    )
    (served,) = serving_backends(_clients(emulator.port), config)
    assert (served.variant, served.model_name, served.backend, served.image) == (
        "AllTraffic",
        "v-model",
        "vllm",
        VLLM_IMAGE,
    )


def test_a_tgi_model_reads_back_as_tgi(emulator: LocalAws) -> None:
    config = _deploy_config(emulator.port, "t", TGI_IMAGE, {"HF_MODEL_ID": "owner/model", "SM_NUM_GPUS": "1"})
    assert [s.backend for s in serving_backends(_clients(emulator.port), config)] == ["tgi"]


def test_a_config_sagemaker_does_not_know_shows_no_backend(emulator: LocalAws) -> None:
    assert serving_backends(_clients(emulator.port), "no-such-config") == ()


@pytest.mark.parametrize(
    ("environment", "image", "backend"),
    [
        ({"SM_VLLM_MODEL": "m"}, "example.com/anything:1", "vllm"),
        ({"HF_MODEL_ID": "m"}, "example.com/anything:1", "tgi"),
        ({}, VLLM_IMAGE, "vllm"),
        ({}, TGI_IMAGE, "tgi"),
        ({}, "example.com/mine:1", "unknown"),
    ],
)
def test_the_environment_decides_before_the_image(
    environment: dict[str, str], image: str, backend: str
) -> None:
    assert backend_of(environment, image) == backend
