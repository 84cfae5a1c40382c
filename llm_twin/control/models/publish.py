"""`model push`'s rules around the upload: which weights may go up, and what `--deploy` records.

Only safetensors are stored: pickle (`.bin`) weights can run code when loaded, and TGI
would convert them at every boot. With `convert` they are rewritten first (by the
stand-in's converter, through `local_target`: torch is the [local] extra's).

`--deploy` records the pushed prefix in the env file (MODEL_DATA_S3_URI, and
HF_MODEL_ID=/opt/ml/model where SageMaker mounts it), keeping every other line, so a
later `make apply` serves the same model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from llm_twin.control import local_target
from llm_twin.control.env_file import set_env_values
from llm_twin.errors import CheckpointError, SettingsError
from llm_twin.protocol.checkpoints import Checkpoint, inspect_checkpoint

if TYPE_CHECKING:
    from llm_twin.control.local_target import ConversionResult

__all__ = [
    "CONTAINER_MODEL_DIR",
    "Pushable",
    "check_deploy_environment",
    "deploy_values",
    "pushable",
    "record_deploy",
]

CONTAINER_MODEL_DIR = "/opt/ml/model"
"""Where SageMaker puts `model_data_source` files in the container; TGI loads HF_MODEL_ID from it."""


@dataclass(frozen=True)
class Pushable:
    """A checkpoint the store accepts, and the conversion that made it one (None when none was needed)."""

    checkpoint: Checkpoint
    conversion: ConversionResult | None = None


def pushable(path: Path, scratch: Path, *, convert: bool) -> Pushable:
    """The checkpoint at `path` as it may be uploaded: safetensors as they are, pickle weights
    converted into `scratch` when `convert` is set, else CheckpointError saying why and how."""
    checkpoint = inspect_checkpoint(path)
    if checkpoint.weight_format != "pickle":
        return Pushable(checkpoint)
    if not convert:
        raise CheckpointError(
            f"{path} holds pickle weights ({checkpoint.weights[0]}), which can run code when loaded "
            "and which TGI converts at every boot: pass --convert to rewrite them as safetensors "
            "(every tensor is checked equal) before the upload"
        )
    result = local_target.convert_checkpoint(path, scratch / path.resolve().name)
    return Pushable(inspect_checkpoint(result.target), result)


def deploy_values(uri: str) -> dict[str, str]:
    """The settings that make an apply serve the model at `uri`."""
    return {"MODEL_DATA_S3_URI": uri, "HF_MODEL_ID": CONTAINER_MODEL_DIR}


def check_deploy_environment(environ: Mapping[str, str], uri: str) -> None:
    """The environment wins over the env file: a value there would silently undo --deploy."""
    for key, wanted in deploy_values(uri).items():
        current = environ.get(key)
        if current is not None and current != wanted:
            raise SettingsError(
                f"{key}={current!r} is set in the environment, which overrides the env file that --deploy "
                f"writes ({key}={wanted}): unset it, then re-run"
            )


def record_deploy(env_file: Path, uri: str) -> dict[str, str]:
    """Write the model's settings to `env_file`, every other line kept; the values written."""
    values = deploy_values(uri)
    set_env_values(env_file, values)
    return values
