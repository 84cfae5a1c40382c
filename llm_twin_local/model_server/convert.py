"""Rewrite a pickle (`pytorch_model*.bin`) checkpoint as safetensors, and prove the tensors equal.

TGI converts `.bin` weights at every boot, so the stand-in does too: the local runtime
runs this module when a model holds only pickle weights. `llm-twin model push --convert`
runs it once before an upload (through `llm_twin.control.local_target`), which takes the
conversion off the endpoint's start-up. `torch.load` runs with `weights_only=True`, so a
pickle cannot run code while it is read. torch comes with the [local] extra.

    python -m llm_twin_local.model_server.convert SRC DST     (what the local runtime runs at boot)
"""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from llm_twin.errors import CheckpointError
from llm_twin.protocol.checkpoints import checkpoint_paths, classify, weight_format_of

PICKLE_INDEX = "pytorch_model.bin.index.json"
SAFETENSORS_INDEX = "model.safetensors.index.json"


@dataclass(frozen=True)
class ConversionResult:
    """What a conversion wrote, and what it checked."""

    target: Path
    written: tuple[str, ...]
    """Relative paths of the new safetensors files."""
    tensors: int
    """How many tensors were compared equal after the round trip."""


def safetensors_name(relative: str) -> str:
    """pytorch_model-00001-of-00002.bin -> model-00001-of-00002.safetensors (the names transformers looks for)."""
    directory, _, name = relative.rpartition("/")
    stem = name.rsplit(".", 1)[0]
    if stem.startswith("pytorch_model"):
        stem = "model" + stem[len("pytorch_model") :]
    return f"{directory}/{stem}.safetensors" if directory else f"{stem}.safetensors"


def convert_checkpoint(source: Path, target: Path) -> ConversionResult:
    """Write `source` (pickle weights) into `target` as safetensors; other files are copied.

    Every tensor is read back from the written file and compared with `torch.equal`; a
    difference raises CheckpointError and leaves `target` removed.
    """
    import torch
    from safetensors.torch import load_file, save_file

    source, target = Path(source), Path(target)
    relative_paths = checkpoint_paths(source)
    weight_format, weights = classify(source, relative_paths)
    if weight_format != "pickle":
        raise CheckpointError(f"{source} already holds safetensors weights: nothing to convert")
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    try:
        for relative in relative_paths:
            if weight_format_of(relative) is None and relative != PICKLE_INDEX:
                (target / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source / relative, target / relative)
        written, compared = [], 0
        renamed = {}
        for relative in weights:
            try:
                state = torch.load(source / relative, map_location="cpu", weights_only=True)
            except Exception as exc:  # torch raises many kinds for a bad or unsafe pickle
                raise CheckpointError(f"cannot read {source / relative} as torch weights: {exc}") from exc
            if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
                raise CheckpointError(f"{source / relative} is not a state dict of tensors")
            # safetensors refuses shared storage (tied embeddings); each tensor gets its own copy.
            tensors = {name: tensor.detach().clone().contiguous() for name, tensor in state.items()}
            out = safetensors_name(relative)
            (target / out).parent.mkdir(parents=True, exist_ok=True)
            save_file(tensors, str(target / out), metadata={"format": "pt"})
            reloaded = load_file(str(target / out))
            differing = [
                name
                for name, tensor in state.items()
                if name not in reloaded
                or reloaded[name].dtype != tensor.dtype
                or not torch.equal(reloaded[name], tensor)
            ]
            if differing or len(reloaded) != len(state):
                raise CheckpointError(
                    f"converting {relative} changed tensors {differing[:3]}: the safetensors copy was discarded"
                )
            compared += len(state)
            written.append(out)
            renamed[relative] = out
        if (source / PICKLE_INDEX).is_file():
            index = json.loads((source / PICKLE_INDEX).read_text())
            index["weight_map"] = {k: renamed.get(v, v) for k, v in index.get("weight_map", {}).items()}
            (target / SAFETENSORS_INDEX).write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return ConversionResult(target=target, written=tuple(written), tensors=compared)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m llm_twin_local.model_server.convert SRC DST", file=sys.stderr)
        return 2
    try:
        result = convert_checkpoint(Path(args[0]), Path(args[1]))
    except CheckpointError as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"converted {len(result.written)} files, {result.tensors} tensors equal")
    return 0


if __name__ == "__main__":
    sys.exit(main())
