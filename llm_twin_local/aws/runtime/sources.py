"""The directory a model server loads: on disk, the stand-in, an S3 prefix, or converted weights.

A container's HF_MODEL_ID names a local directory, or a Hub repo the emulator cannot
fetch, which the stand-in (the tiny random test checkpoint) serves instead. Its
ModelDataSource, when set, is an S3 prefix in the emulator's own S3, downloaded into the
model cache as SageMaker fills /opt/ml/model. Pickle (`.bin`) weights are converted to
safetensors first, as TGI converts them at boot. The slow steps run as helper processes.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from llm_twin.protocol.checkpoints import checkpoint_paths, weight_format_of
from llm_twin_local.aws.runtime import model_data

STAND_IN_IMAGE = "llm-twin-model-server:stand-in-tiny"
"""`ResolvedImage` of a variant served by the stand-in model instead of its HF_MODEL_ID."""
VLLM_STAND_IN_IMAGE = "llm-twin-model-server-vllm:stand-in-tiny"
"""The same behind a vLLM container: the model server speaking vLLM's API (`--api vllm`)."""
STAND_IN_IMAGES = (STAND_IN_IMAGE, VLLM_STAND_IN_IMAGE)


def resolved_image(api: str, source: str | None) -> str:
    """What DescribeEndpoint's `ResolvedImage` says serves a variant: the model server, the API it
    speaks (TGI's unnamed, as before vLLM), and its model (`source`; None: the stand-in)."""
    name = "llm-twin-model-server" if api == "tgi" else f"llm-twin-model-server-{api}"
    return f"{name}:{source or 'stand-in-tiny'}"


STAND_IN_CONTEXT = 131072
"""The stand-in's context length: Llama 3.1's, so the book's token limits are accepted."""
_STAND_IN_SCRIPT = (
    "import sys; from llm_twin_local.model_server.checkpoint import SIZES, create_test_checkpoint; "
    "s = SIZES['tiny']; create_test_checkpoint(sys.argv[1], hidden_size=s.hidden_size, layers=s.layers, "
    "vocab_size=s.vocab_size, heads=s.heads, intermediate_size=s.intermediate_size, "
    "max_position_embeddings=int(sys.argv[2]), vocabulary='words')"
)


def model_data_uri(container: Mapping[str, Any]) -> str | None:
    """The uncompressed S3 prefix of `ModelDataSource` (CompressionType None), or None."""
    source = (container.get("ModelDataSource") or {}).get("S3DataSource") or {}
    uri = source.get("S3Uri") or ""
    return uri if uri.startswith("s3://") else None


class ModelSources:
    """The stand-in and the model cache under one state directory, each made by one thread at a time."""

    def __init__(self, state_dir: Path) -> None:
        self.stand_in_dir = Path(state_dir) / "emulator" / "stand-in-model"
        self.model_cache_dir = Path(state_dir) / "emulator" / "model-cache"
        self._stand_in_lock = threading.Lock()
        self._model_cache_lock = threading.Lock()

    def stand_in(self) -> Path:
        """Make the stand-in checkpoint once; a half-written one is never used."""
        with self._stand_in_lock:
            if (self.stand_in_dir / "config.json").is_file():
                return self.stand_in_dir
            partial = self.stand_in_dir.with_name(self.stand_in_dir.name + ".partial")
            shutil.rmtree(partial, ignore_errors=True)
            _run_helper(
                [sys.executable, "-c", _STAND_IN_SCRIPT, str(partial), str(STAND_IN_CONTEXT)],
                timeout=300,
                failure="making the stand-in model failed",
            )
            partial.rename(self.stand_in_dir)
            return self.stand_in_dir

    def fetch(self, account_id: str, uri: str) -> Path:
        """Download an S3 prefix from the emulator's own S3, as SageMaker fills /opt/ml/model."""
        objects = model_data.prefix_objects(account_id, uri)
        with self._model_cache_lock:
            return model_data.download(uri, objects, self.model_cache_dir)

    def as_safetensors(self, model_dir: Path) -> Path:
        """`model_dir`, or a safetensors copy of it when it holds only pickle weights, as TGI converts at boot."""
        if not any(weight_format_of(p) == "pickle" for p in checkpoint_paths(model_dir)):
            return model_dir
        target = self.model_cache_dir / f"converted-{int(time.time() * 1000)}"
        _run_helper(
            [sys.executable, "-m", "llm_twin_local.model_server.convert", str(model_dir), str(target)],
            timeout=1800,
            failure=f"converting the pickle weights in {model_dir} failed",
        )
        return target


def _run_helper(args: list[str], *, timeout: float, failure: str) -> None:
    """Run a Python helper process (stand-in model, `.bin` conversion); OSError with its last stderr line."""
    result = subprocess.run(args, capture_output=True, stdin=subprocess.DEVNULL, timeout=timeout)
    if result.returncode != 0:
        tail = result.stderr.decode(errors="replace").strip().splitlines()[-1:]
        raise OSError(f"{failure}: {' '.join(tail)}")
