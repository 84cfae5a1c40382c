"""What a container's environment asks the local runtime to serve, and how.

On SageMaker TGI reads HF_MODEL_ID (and HF_MODEL_REVISION, as REVISION) and downloads the
model from the Hub. The vLLM container reads SM_VLLM_MODEL instead (and SM_VLLM_REVISION):
a Hub id, or /opt/ml/model, where SageMaker mounts the model's ModelDataSource. Which
variable the environment has says which API the model server speaks (`api_of`).
Locally the same container environment carries three more variables,
rendered by llm-twin only on TARGET=local (never into a real SageMaker model), so that a
change of any of them makes a new model and rolls the endpoint like any other change:

    LLM_TWIN_LOCAL_MODEL_ID   served instead of HF_MODEL_ID (a smaller model of the family)
    LLM_TWIN_LOCAL_MODEL      auto: the model, or the stand-in when the Hub cannot be reached;
                              model: the model or Failed; stand-in: a Hub id is never downloaded
    LLM_TWIN_LOCAL_DTYPE      auto | bfloat16 | float32, handed to the model server as --dtype

A model id that is a directory is served from disk; a ModelDataSource is served from S3.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

MODEL_ID_ENV = "HF_MODEL_ID"
REVISION_ENV = "HF_MODEL_REVISION"
VLLM_MODEL_ENV = "SM_VLLM_MODEL"
VLLM_REVISION_ENV = "SM_VLLM_REVISION"
SAGEMAKER_MODEL_DIR = "/opt/ml/model"
"""Where SageMaker mounts a model's ModelDataSource; a vLLM container names it in SM_VLLM_MODEL."""
LOCAL_MODEL_ID_ENV = "LLM_TWIN_LOCAL_MODEL_ID"
LOCAL_MODEL_ENV = "LLM_TWIN_LOCAL_MODEL"
LOCAL_DTYPE_ENV = "LLM_TWIN_LOCAL_DTYPE"
LOCAL_ENVIRONMENT = (LOCAL_MODEL_ID_ENV, LOCAL_MODEL_ENV, LOCAL_DTYPE_ENV)
"""The variables only a local container carries."""
MODES = ("auto", "model", "stand-in")
DTYPES = ("auto", "bfloat16", "float32")

Kind = Literal["disk", "s3", "hub", "stand-in", "missing"]
Api = Literal["tgi", "vllm"]


def api_of(environment: Mapping[str, str]) -> Api | None:
    """The API of the container: vLLM's when SM_VLLM_MODEL is set, TGI's with HF_MODEL_ID, else none."""
    if environment.get(VLLM_MODEL_ENV, "").strip():
        return "vllm"
    if environment.get(MODEL_ID_ENV, "").strip():
        return "tgi"
    return None


@dataclass(frozen=True)
class ModelChoice:
    """One variant's model: where it comes from, and the settings that named it."""

    kind: Kind
    model_id: str
    """LLM_TWIN_LOCAL_MODEL_ID, else HF_MODEL_ID: what /info reports."""
    setting: str
    """The llm-twin setting that names the model, for reasons a person reads."""
    revision: str | None = None
    mode: str = "auto"
    dtype: str | None = None
    """None: the container says nothing, and the model server keeps its default."""
    s3_uri: str | None = None
    api: Api = "tgi"
    """The container API the model server speaks for this variant."""

    @property
    def stand_in_reason(self) -> str | None:
        return "LOCAL_MODEL=stand-in" if self.kind == "stand-in" else None


def choose(environment: Mapping[str, str], s3_uri: str | None) -> ModelChoice:
    """What the container environment (and its ModelDataSource) asks to be served."""
    api = api_of(environment) or "tgi"
    local_id = environment.get(LOCAL_MODEL_ID_ENV, "").strip()
    named = environment[VLLM_MODEL_ENV if api == "vllm" else MODEL_ID_ENV].strip()
    model_id = local_id or named
    setting = "LOCAL_MODEL_ID" if local_id else "HF_MODEL_ID"  # llm-twin renders SM_VLLM_MODEL from it too
    mode = environment.get(LOCAL_MODEL_ENV, "auto").strip() or "auto"
    if mode not in MODES:
        mode = "auto"
    dtype = environment.get(LOCAL_DTYPE_ENV, "").strip() or None
    if dtype is not None and dtype not in DTYPES:
        dtype = None
    revision = environment.get(VLLM_REVISION_ENV if api == "vllm" else REVISION_ENV, "").strip() or None

    def made(kind: Kind) -> ModelChoice:
        return ModelChoice(
            kind, model_id, setting, revision, mode, dtype, s3_uri if kind == "s3" else None, api
        )

    # vLLM loads what SM_VLLM_MODEL names: the mounted model data only when it names /opt/ml/model.
    from_s3 = not local_id and (api == "tgi" or named == SAGEMAKER_MODEL_DIR)
    if s3_uri is not None and from_s3:
        return made("s3")
    if api == "vllm" and model_id == SAGEMAKER_MODEL_DIR:
        return made("missing")  # nothing is mounted there: the model has no ModelDataSource
    if Path(model_id).expanduser().is_dir():
        return made("disk")
    if model_id.startswith(("/", "~", ".")):
        return made("missing")
    return made("stand-in" if mode == "stand-in" else "hub")


def container_environment(model_id: str, mode: str, dtype: str) -> dict[str, str]:
    """The local-only variables llm-twin renders into a local container (`model_id` "": none)."""
    rendered = {LOCAL_MODEL_ENV: mode, LOCAL_DTYPE_ENV: dtype}
    if model_id:
        rendered[LOCAL_MODEL_ID_ENV] = model_id
    return rendered
