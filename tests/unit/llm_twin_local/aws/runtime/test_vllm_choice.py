"""What a vLLM container's environment asks the runtime for: the API, the model, the server's flags.

The flag rule is the vLLM SageMaker entrypoint's (aws/deep-learning-containers
`vllm/build_artifacts/sagemaker_entrypoint.sh`; AWS's configuration docs add the booleans):
`SM_VLLM_<NAME>=v` -> `--<name-with-dashes> v`, an empty value or `true` a bare flag, `false` nothing.
The model: SM_VLLM_MODEL, where /opt/ml/model is the mounted ModelDataSource.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from llm_twin_local.aws.runtime.choice import api_of, choose
from llm_twin_local.aws.runtime.servers import VLLM_OWN_VARIABLES, vllm_arguments
from llm_twin_local.aws.runtime.sources import STAND_IN_IMAGES, resolved_image

S3 = "s3://bucket/model/"


def test_the_entrypoint_rule_for_each_kind_of_value() -> None:
    environment = {
        "SM_VLLM_MAX_MODEL_LEN": "4096",
        "SM_VLLM_TENSOR_PARALLEL_SIZE": "4",
        "SM_VLLM_ENFORCE_EAGER": "true",
        "SM_VLLM_TRUST_REMOTE_CODE": "",
        "SM_VLLM_ENABLE_PREFIX_CACHING": "false",
        "HF_TOKEN": "secret",
        "MAX_TOTAL_TOKENS": "4096",
    }
    assert vllm_arguments(environment) == [
        "--enforce-eager",
        "--max-model-len",
        "4096",
        "--tensor-parallel-size",
        "4",
        "--trust-remote-code",
    ]


def test_the_runtime_sets_model_host_and_port_itself() -> None:
    environment = {
        "SM_VLLM_MODEL": "org/m",
        "SM_VLLM_HOST": "0.0.0.0",
        "SM_VLLM_PORT": "8080",
        "SM_VLLM_SEED": "1",
    }
    assert vllm_arguments(environment, VLLM_OWN_VARIABLES) == ["--seed", "1"]


@pytest.mark.parametrize(
    ("environment", "api"),
    [
        ({"SM_VLLM_MODEL": "org/m"}, "vllm"),
        ({"HF_MODEL_ID": "org/m"}, "tgi"),
        ({"SM_VLLM_MAX_MODEL_LEN": "8"}, None),
        ({}, None),
    ],
)
def test_the_variable_names_the_api(environment: dict[str, str], api: str | None) -> None:
    assert api_of(environment) == api


def test_a_hub_id_with_its_revision() -> None:
    choice = choose({"SM_VLLM_MODEL": "org/m", "SM_VLLM_REVISION": "v1", "HF_MODEL_REVISION": "other"}, None)
    assert (choice.api, choice.kind, choice.model_id, choice.revision) == ("vllm", "hub", "org/m", "v1")


def test_opt_ml_model_is_the_model_data() -> None:
    choice = choose({"SM_VLLM_MODEL": "/opt/ml/model"}, S3)
    assert (choice.kind, choice.s3_uri) == ("s3", S3)
    assert choose({"SM_VLLM_MODEL": "/opt/ml/model"}, None).kind == "missing"


def test_a_hub_id_wins_over_mounted_model_data_as_in_vllm() -> None:
    """vLLM loads what --model names; the mounted /opt/ml/model is used only when named."""
    assert choose({"SM_VLLM_MODEL": "org/m"}, S3).kind == "hub"
    assert choose({"HF_MODEL_ID": "org/m"}, S3).kind == "s3"  # TGI's rule is unchanged


def test_the_local_variables_keep_working(tmp_path: Path) -> None:
    choice = choose(
        {
            "SM_VLLM_MODEL": "org/big",
            "LLM_TWIN_LOCAL_MODEL_ID": str(tmp_path),
            "LLM_TWIN_LOCAL_DTYPE": "bfloat16",
            "LLM_TWIN_LOCAL_MODEL": "stand-in",
        },
        None,
    )
    assert (choice.kind, choice.model_id, choice.setting, choice.dtype) == (
        "disk",
        str(tmp_path),
        "LOCAL_MODEL_ID",
        "bfloat16",
    )
    assert choose({"SM_VLLM_MODEL": "org/big", "LLM_TWIN_LOCAL_MODEL": "stand-in"}, None).kind == "stand-in"


def test_the_resolved_image_names_the_api() -> None:
    assert resolved_image("tgi", "/m") == "llm-twin-model-server:/m"
    assert resolved_image("vllm", "/m") == "llm-twin-model-server-vllm:/m"
    assert resolved_image("tgi", None) in STAND_IN_IMAGES
    assert resolved_image("vllm", None) in STAND_IN_IMAGES
