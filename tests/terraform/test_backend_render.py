"""The container environment per serving backend, as real Terraform plans it (nothing applied).

The vllm environment is the contract with the local runtime and the Hugging Face vLLM DLC
(SM_VLLM_* become vLLM's flags), so it is compared key for key; the TGI one must not move,
or every existing endpoint would roll over on an upgrade of llm-twin.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llm_twin.control import local_target, tfvars
from llm_twin.control.deploy.deployment import LOCAL_ADMIN, Deployment
from llm_twin.control.images import resolve_vllm_image
from llm_twin.errors import SettingsError
from tests.conftest import private_target, settings_for
from tests.terraform.conftest import managed_resources

BOOTSTRAP_OUTPUTS = {
    "execution_role_arn": "arn:aws:iam::123456789012:role/llm-twin-sagemaker-execution",
    "artifact_bucket_name": "llm-twin-artifacts-123456789012-eu-central-1",
}
RENDERS: dict[str, dict[str, str]] = {
    "tgi": {},
    "vllm": {"SERVING_BACKEND": "vllm"},
    "vllm-tuned": {
        "SERVING_BACKEND": "vllm",
        "VLLM_VERSION": "0.21",
        "VLLM_MAX_NUM_SEQS": "8",
        "VLLM_GPU_MEMORY_UTILIZATION": "0.75",
        "MAX_TOTAL_TOKENS": "16384",  # above TGI's default batch total: a rule that binds TGI only
        "SM_NUM_GPUS": "4",
        "SAGEMAKER_INSTANCE_TYPE": "ml.g5.12xlarge",
        "MODEL_DATA_S3_URI": "s3://llm-twin-artifacts-123456789012-eu-central-1/models/twin/v1/",
        "HF_MODEL_ID": "/opt/ml/model",
        "HF_MODEL_REVISION": "v1.0",
        "HF_TOKEN": "hf_rendertestnotarealtoken",
    },
}


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict[str, Any]]]:
    """render name -> the planned aws_sagemaker_model's values, one emulator for all."""
    root = tmp_path_factory.mktemp("backend-render")
    models: dict[str, dict[str, Any]] = {}
    with private_target(root / "state") as env:
        for name, overrides in RENDERS.items():
            deployment = Deployment(settings_for({**env, **overrides}))
            deployment.ensure_local()
            terraform = deployment._terraform("main", LOCAL_ADMIN)
            variables = tfvars.main_vars(deployment.settings, BOOTSTRAP_OUTPUTS)
            plan = deployment._plan(terraform, deployment.main_paths, variables)
            shown = terraform.show_json(plan.plan_file)
            (model,) = [r for r in managed_resources(shown) if r["type"] == "aws_sagemaker_model"]
            models[name] = {**model["values"], "settings": deployment.settings}
        yield models


def _container(model: dict[str, Any]) -> dict[str, Any]:
    (container,) = model["primary_container"]
    return container


def _local(model: dict[str, Any]) -> dict[str, str]:
    return local_target.container_environment(model["settings"])


def test_the_vllm_environment_is_the_designs_table(planned: dict[str, dict[str, Any]]) -> None:
    model = planned["vllm"]
    assert _container(model)["environment"] == {
        **_local(model),
        "SM_VLLM_MODEL": "mlabonne/TwinLlama-3.1-8B-DPO",
        "SM_VLLM_TENSOR_PARALLEL_SIZE": "1",
        "SM_VLLM_MAX_MODEL_LEN": "4096",
        "SM_VLLM_MAX_NUM_SEQS": "256",
        "SM_VLLM_GPU_MEMORY_UTILIZATION": "0.9",
        "SM_VLLM_SERVED_MODEL_NAME": "mlabonne/TwinLlama-3.1-8B-DPO",
        "SM_VLLM_HOST": "0.0.0.0",
    }


def test_vllm_with_model_data_a_revision_and_a_token(planned: dict[str, dict[str, Any]]) -> None:
    model = planned["vllm-tuned"]
    container = _container(model)
    assert container["environment"] == {
        **_local(model),
        "SM_VLLM_MODEL": "/opt/ml/model",
        "SM_VLLM_REVISION": "v1.0",
        "SM_VLLM_TENSOR_PARALLEL_SIZE": "4",
        "SM_VLLM_MAX_MODEL_LEN": "16384",
        "SM_VLLM_MAX_NUM_SEQS": "8",
        "SM_VLLM_GPU_MEMORY_UTILIZATION": "0.75",
        "SM_VLLM_SERVED_MODEL_NAME": "/opt/ml/model",
        "SM_VLLM_HOST": "0.0.0.0",
        "HF_TOKEN": "hf_rendertestnotarealtoken",
    }
    (source,) = container["model_data_source"]
    assert source["s3_data_source"][0]["s3_uri"] == RENDERS["vllm-tuned"]["MODEL_DATA_S3_URI"]
    assert "hf_rendertestnotarealtoken" not in model["name"]


def test_vllm_images_come_from_the_catalogue_as_full_uris(planned: dict[str, dict[str, Any]]) -> None:
    assert _container(planned["vllm"])["image"] == (
        "763104351884.dkr.ecr.eu-central-1.amazonaws.com/huggingface-vllm:"
        "0.29.0-transformers5.15.0-gpu-py312-cu130-ubuntu24.04-v1.0"
    )
    assert _container(planned["vllm-tuned"])["image"] == resolve_vllm_image("0.21", "eu-central-1").uri(
        "eu-central-1"
    )


def test_the_tgi_environment_is_unchanged(planned: dict[str, dict[str, Any]]) -> None:
    model = planned["tgi"]
    container = _container(model)
    assert container["environment"] == {
        **_local(model),
        "HF_MODEL_ID": "mlabonne/TwinLlama-3.1-8B-DPO",
        "SM_NUM_GPUS": "1",
        "MAX_INPUT_TOKENS": "2048",
        "MAX_TOTAL_TOKENS": "4096",
        "MAX_BATCH_TOTAL_TOKENS": "8192",
        "MAX_BATCH_PREFILL_TOKENS": "2048",
    }
    assert container["image"].endswith(
        "/huggingface-pytorch-tgi-inference:2.7.0-tgi3.3.6-gpu-py311-cu124-ubuntu22.04"
    )


def test_a_backend_switch_names_a_new_model(planned: dict[str, dict[str, Any]]) -> None:
    """The name is the content's fingerprint: a new name is what lets create_before_destroy
    build the vLLM model and config while the TGI ones still serve, then roll blue/green."""
    names = {render: planned[render]["name"] for render in RENDERS}
    assert len(set(names.values())) == len(names)
    assert all(name.startswith("llm-twin-endpoint-") for name in names.values())


def test_a_vllm_render_without_an_image_stops_in_terraform(tmp_path: Path) -> None:
    """The provider's image table cannot find huggingface-vllm, so the module asks for image_uri."""
    with private_target(tmp_path / "state", SERVING_BACKEND="vllm") as env:
        deployment = Deployment(settings_for(env))
        deployment.ensure_local()
        variables = tfvars.main_vars(deployment.settings, BOOTSTRAP_OUTPUTS)
        del variables["endpoint"]["image_uri"]
        terraform = deployment._terraform("main", LOCAL_ADMIN)
        with pytest.raises(SettingsError) as caught:
            deployment._plan(terraform, deployment.main_paths, variables)
    assert "image_uri is needed when backend is vllm" in str(caught.value)
    assert caught.value.exit_code == 2
    assert not deployment.main_paths.state.exists()
