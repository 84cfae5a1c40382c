"""Sizing a model against memory before it is fetched or loaded: counts, dtypes, the room there is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from safetensors import safe_open

from llm_twin_local.aws.runtime import memory


def test_header_counts_match_what_safetensors_itself_reads(tiny_model: Path) -> None:
    weights = tiny_model / "model.safetensors"
    with safe_open(weights, framework="pt") as reader:
        numel = sum(reader.get_tensor(name).numel() for name in reader.keys())  # noqa: SIM118 - not iterable
    assert memory.header_parameters([weights]) == {"F32": numel}


@pytest.mark.parametrize(
    ("choice", "named", "expected"),
    [
        ("auto", "bfloat16", 10 * 2 + 8),  # the checkpoint's own; the int64 tensor keeps its 8 bytes
        ("auto", "float32", 10 * 4 + 8),
        ("auto", "float16", 10 * 4 + 8),  # the model server widens float16 to float32 on a CPU
        ("auto", None, 10 * 4 + 8),
        ("bfloat16", "float32", 10 * 2 + 8),
        ("float32", "bfloat16", 10 * 4 + 8),
    ],
)
def test_floats_take_the_served_dtype_and_integers_keep_theirs(
    choice: str, named: str | None, expected: int
) -> None:
    assert memory.weights_bytes({"BF16": 6, "F32": 4, "I64": 1}, choice, named) == expected


def test_a_directory_fit_reads_config_dtype_and_headers(tiny_model: Path, tmp_path: Path) -> None:
    fit = memory.directory_fit(tiny_model, "bfloat16")
    assert fit is not None and fit.dtype == "bfloat16 (LOCAL_DTYPE)"
    assert fit.weights * 2 == (memory.directory_fit(tiny_model, "float32") or fit).weights
    assert memory.directory_fit(tmp_path, "auto") is None  # nothing to count: no refusal either


def test_available_memory_is_at_most_meminfo_available() -> None:
    found = memory.available_memory()
    lines = Path("/proc/meminfo").read_text().splitlines()
    meminfo = next(line for line in lines if line.startswith("MemAvailable:"))
    assert found is not None and 0 < found <= int(meminfo.split()[1]) * 1024 * 1.1


def test_a_fit_leaves_room_to_run() -> None:
    gib = memory.GIB
    assert memory.Fit(3 * gib, "float32", 4 * gib).fits
    assert not memory.Fit(3 * gib + 1, "float32", 4 * gib).fits
    assert memory.Fit(10**15, "float32", None).fits  # a platform that reports nothing is not refused
    assert json.dumps(memory.gib(3 * gib)) == '"3.0 GiB"'
