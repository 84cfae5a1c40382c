"""Load time of one >= 200 MB checkpoint: safetensors vs `torch.load` of a pytorch_model.bin.

    .venv/bin/python bench/bench_safetensors.py [--model-dir DIR] [--repeat 5]

Both files hold the same state dict and are read from a warm page cache; each load is
timed alone, then again with every tensor touched (a sum over all weights), because a
memory-mapped load can defer reading until first use.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors.torch import load_file

from llm_twin_local.model_server.checkpoint import create_sized_checkpoint


def timed(load: Callable[[], dict[str, torch.Tensor]], *, touch: bool) -> float:
    start = time.perf_counter()
    state = load()
    if touch:
        total = sum(float(t.float().sum()) for t in state.values())
        assert total == total  # not NaN; keeps the work from being skipped
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model-dir", type=Path, help="defaults to a fresh '200mb' test checkpoint")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        model_dir = args.model_dir or create_sized_checkpoint(Path(scratch) / "m200", "200mb")
        safetensors_path = model_dir / "model.safetensors"
        bin_path = Path(scratch) / "pytorch_model.bin"
        torch.save(load_file(safetensors_path), bin_path)
        sizes = safetensors_path.stat().st_size / 1e6, bin_path.stat().st_size / 1e6
        print(f"checkpoint: {safetensors_path} ({sizes[0]:.0f} MB), pytorch_model.bin ({sizes[1]:.0f} MB)")

        loaders = {
            "safetensors": lambda: load_file(safetensors_path),
            "torch.load": lambda: torch.load(bin_path, map_location="cpu", weights_only=True),
        }
        for touch in (False, True):
            medians = {}
            for name, load in loaders.items():
                load()  # warm the page cache
                medians[name] = statistics.median(timed(load, touch=touch) for _ in range(args.repeat))
            label = "load + touch all" if touch else "load"
            for name, seconds in medians.items():
                print(f"{label:17s} {name:12s}: {seconds * 1000:8.1f} ms (median of {args.repeat})")
            ratio = medians["torch.load"] / medians["safetensors"]
            print(f"{label:17s} ratio torch.load / safetensors: {ratio:.2f}x")


if __name__ == "__main__":
    main()
