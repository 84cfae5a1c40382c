"""vLLM-container models on a real emulator, made straight through boto3 (no Terraform).

The container environment is what Terraform renders for SERVING_BACKEND=vllm
(terraform/modules/sagemaker_endpoint/environment.tf), with the model named directly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.runtime import create_model_and_config

VLLM_IMAGE = (
    "763104351884.dkr.ecr.eu-central-1.amazonaws.com/"
    "huggingface-vllm:0.29.0-transformers5.15.0-gpu-py312-cu130-ubuntu24.04-v1.0"
)
SERVED = "meta-llama/Llama-3.1-8B-Instruct"
"""SM_VLLM_SERVED_MODEL_NAME of these models: what answers' `model` says."""


def vllm_environment(model: Path | str, **extra: str) -> dict[str, str]:
    """SM_VLLM_* as the design renders them, for `model` (a directory, a Hub id or /opt/ml/model)."""
    return {
        "SM_VLLM_MODEL": str(model),
        "SM_VLLM_SERVED_MODEL_NAME": SERVED,
        "SM_VLLM_MAX_MODEL_LEN": "512",
        "SM_VLLM_MAX_NUM_SEQS": "8",
        "SM_VLLM_GPU_MEMORY_UTILIZATION": "0.9",
        "SM_VLLM_TENSOR_PARALLEL_SIZE": "1",
        "SM_VLLM_HOST": "0.0.0.0",
        "SM_VLLM_ENFORCE_EAGER": "true",
        **extra,
    }


def create_vllm(
    sagemaker: Any, name: str, model: Path | str, *, model_data_uri: str | None = None, **extra: str
) -> None:
    """Model `<name>-model` and endpoint config `<name>-config` for a vLLM container (mounting the
    S3 prefix `model_data_uri` as its ModelDataSource, when given); an `extra` of "" drops a variable."""
    environment = {k: v for k, v in vllm_environment(model, **extra).items() if v != ""}
    container: dict[str, Any] = {"Image": VLLM_IMAGE, "Environment": environment}
    if model_data_uri is not None:
        source = {"S3Uri": model_data_uri, "S3DataType": "S3Prefix", "CompressionType": "None"}
        container["ModelDataSource"] = {"S3DataSource": source}
    create_model_and_config(sagemaker, name, container)


def deploy_vllm(sagemaker: Any, name: str, model: Path | str, **extra: str) -> None:
    """`create_vllm`, then CreateEndpoint `name` (it starts Creating)."""
    create_vllm(sagemaker, name, model, **extra)
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-config")
