"""Which dtype the server loads a checkpoint in (`--dtype`, LOCAL_DTYPE on the local target).

Torch-free on purpose: the local runtime sizes a model against the memory available
before it starts a server, from config.json alone.

`auto` follows the checkpoint, as TGI does: bfloat16 when config.json names bfloat16,
float32 otherwise (no dtype named, float32, or float16). A float16 checkpoint widens to
float32 without loss; bfloat16 would round it, and float16 is neither fast on a CPU nor
checked against transformers here (test_reference covers float32, test_dtypes bfloat16).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Literal, cast, get_args

DtypeChoice = Literal["auto", "bfloat16", "float32"]
ServedDtype = Literal["bfloat16", "float32"]
DTYPE_CHOICES: tuple[str, ...] = get_args(DtypeChoice)
SERVED_DTYPES: tuple[str, ...] = get_args(ServedDtype)


def config_dtype(config: Mapping[str, object]) -> str | None:
    """The dtype a config.json names (`dtype`, or `torch_dtype` before transformers 5), if any."""
    named = config.get("dtype") or config.get("torch_dtype")
    return named.removeprefix("torch.") if isinstance(named, str) else None


def checkpoint_dtype(model_dir: Path) -> str | None:
    """`config_dtype` of the checkpoint in `model_dir`; None when its config.json cannot be read."""
    try:
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return config_dtype(config) if isinstance(config, dict) else None


def served_dtype(choice: str, named: str | None) -> ServedDtype:
    """The dtype to load in, for a `--dtype` choice (LOCAL_DTYPE) and the checkpoint's own dtype."""
    if choice in SERVED_DTYPES:
        return cast(ServedDtype, choice)
    return "bfloat16" if named == "bfloat16" else "float32"
