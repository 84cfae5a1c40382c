"""Will a model's weights fit in this machine's memory? Asked before a download and before a load.

A model server that loads more than the machine holds is killed by the kernel's OOM killer,
often after minutes of swapping, and takes other processes with it. So the weights' size
at the dtype they will be loaded in is compared with the memory available first, and a
model that does not fit is refused with a reason instead. The sizes come from what the Hub
reports (safetensors parameter counts per dtype) or from safetensors headers on disk,
never from loading anything.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from llm_twin_local.model_server.dtypes import config_dtype, served_dtype

GIB = 1024**3
RUNTIME_OVERHEAD = 1 * GIB
"""Room for torch, the tokenizer, activations and the KV cache of a small batch, beyond the weights."""

# Bytes per element of each safetensors dtype (the header's names, which the Hub reports too).
DTYPE_BYTES = {
    "F64": 8,
    "F32": 4,
    "F16": 2,
    "BF16": 2,
    "F8_E4M3": 1,
    "F8_E5M2": 1,
    "I64": 8,
    "I32": 4,
    "I16": 2,
    "I8": 1,
    "U8": 1,
    "BOOL": 1,
}
FLOATS = frozenset({"F64", "F32", "F16", "BF16", "F8_E4M3", "F8_E5M2"})
SAFETENSORS_NAMES = {"bfloat16": "BF16", "float32": "F32"}
"""The dtypes the model server loads in, by their safetensors names."""


@dataclass(frozen=True)
class Fit:
    """The weights' size at the dtype they load in, against the memory there is."""

    weights: int
    dtype: str
    """Which dtype the size was counted at: the checkpoint's, or LOCAL_DTYPE's."""
    available: int | None
    """None when this platform does not say: the model is then loaded without the check."""

    @property
    def fits(self) -> bool:
        return self.available is None or self.weights + RUNTIME_OVERHEAD <= self.available


def weights_bytes(parameters: Mapping[str, int], load_dtype: str, checkpoint_dtype: str | None) -> int:
    """Bytes of `parameters` (count per safetensors dtype) once loaded in `served_dtype`'s dtype.

    Floating tensors take the served dtype; integer tensors keep theirs.
    """
    target = SAFETENSORS_NAMES[served_dtype(load_dtype, checkpoint_dtype)]
    total = 0
    for dtype, count in parameters.items():
        stored = dtype.upper()
        total += count * DTYPE_BYTES.get(target if stored in FLOATS else stored, 4)
    return total


def dtype_label(load_dtype: str, checkpoint: str | None) -> str:
    """How the size was counted, for a reason a person reads."""
    served = served_dtype(load_dtype, checkpoint)
    if load_dtype != "auto":
        return f"{served} (LOCAL_DTYPE)"
    if checkpoint == served:
        return f"{served} (the checkpoint's own)"
    return f"{served} (LOCAL_DTYPE=auto; config.json names {checkpoint or 'no dtype'})"


def header_parameters(paths: Iterable[Path]) -> dict[str, int]:
    """Elements per dtype across safetensors files, from their headers only (u64 length, JSON)."""
    counts: dict[str, int] = {}
    for path in paths:
        with path.open("rb") as stream:
            (length,) = struct.unpack("<Q", stream.read(8))
            header = json.loads(stream.read(length))
        for name, tensor in header.items():
            if name == "__metadata__":
                continue
            elements = 1
            for size in tensor["shape"]:
                elements *= int(size)
            counts[tensor["dtype"]] = counts.get(tensor["dtype"], 0) + elements
    return counts


def directory_fit(model_dir: Path, load_dtype: str) -> Fit | None:
    """The fit of a checkpoint on disk; None when it holds no safetensors (nothing to count)."""
    weights = sorted(model_dir.glob("*.safetensors"))
    if not weights:
        return None
    config_path = model_dir / "config.json"
    config = json.loads(config_path.read_text()) if config_path.is_file() else {}
    own = config_dtype(config)
    size = weights_bytes(header_parameters(weights), load_dtype, own)
    return Fit(size, dtype_label(load_dtype, own), available_memory())


def available_memory() -> int | None:
    """Bytes a new process may still use: MemAvailable, bounded by a cgroup v2 limit when one is set.

    MemAvailable (Linux 3.14+) counts reclaimable page cache, unlike MemFree. In a container
    the cgroup's limit is the real ceiling. Elsewhere, the free physical pages; None when
    the platform reports nothing.
    """
    found = _meminfo_available()
    if found is None:
        try:
            found = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            found = None
    limit = _cgroup_room()
    if limit is not None:
        found = limit if found is None else min(found, limit)
    return found


def _meminfo_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _cgroup_room(root: Path = Path("/sys/fs/cgroup")) -> int | None:
    """memory.max minus memory.current of this process's cgroup (v2); None without a limit."""
    try:
        relative = next(
            line.split("::", 1)[1]
            for line in Path("/proc/self/cgroup").read_text().splitlines()
            if line.startswith("0::")
        )
        group = root / relative.lstrip("/")
        limit = (group / "memory.max").read_text().strip()
        if limit == "max":
            return None
        return max(int(limit) - int((group / "memory.current").read_text()), 0)
    except (OSError, ValueError, StopIteration):
        return None


def gib(size: int) -> str:
    return f"{size / GIB:.1f} GiB"
