"""`.bin` -> safetensors conversion with real torch and safetensors files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from llm_twin.errors import CheckpointError
from llm_twin_local.model_server.convert import convert_checkpoint, safetensors_name


def _pickle_checkpoint(root: Path, shards: int = 1) -> dict[str, torch.Tensor]:
    root.mkdir(parents=True)
    (root / "config.json").write_text('{"model_type": "llama"}')
    torch.manual_seed(0)
    embed = torch.randn(16, 8)
    state = {"embed.weight": embed, "lm_head.weight": embed, "norm": torch.ones(8, dtype=torch.bfloat16)}
    names = list(state)
    if shards == 1:
        torch.save(state, root / "pytorch_model.bin")
        return state
    weight_map = {}
    for index in range(shards):
        shard = f"pytorch_model-{index + 1:05d}-of-{shards:05d}.bin"
        part = {n: state[n] for n in names[index::shards]}
        torch.save(part, root / shard)
        weight_map.update(dict.fromkeys(part, shard))
    (root / "pytorch_model.bin.index.json").write_text(json.dumps({"weight_map": weight_map}))
    return state


def test_tied_weights_convert_and_round_trip_equal(tmp_path: Path) -> None:
    state = _pickle_checkpoint(tmp_path / "bin")
    result = convert_checkpoint(tmp_path / "bin", tmp_path / "st")
    assert result.written == ("model.safetensors",) and result.tensors == 3
    loaded = load_file(tmp_path / "st" / "model.safetensors")
    assert all(
        torch.equal(loaded[name], tensor) and loaded[name].dtype == tensor.dtype
        for name, tensor in state.items()
    )
    assert (tmp_path / "st" / "config.json").read_text() == '{"model_type": "llama"}'
    assert not list((tmp_path / "st").glob("*.bin"))


def test_sharded_index_is_rewritten(tmp_path: Path) -> None:
    _pickle_checkpoint(tmp_path / "bin", shards=2)
    convert_checkpoint(tmp_path / "bin", tmp_path / "st")
    index = json.loads((tmp_path / "st" / "model.safetensors.index.json").read_text())
    assert set(index["weight_map"].values()) == {
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
    }
    assert not (tmp_path / "st" / "pytorch_model.bin.index.json").exists()
    assert safetensors_name("sub/pytorch_model.bin") == "sub/model.safetensors"


def test_a_pickle_that_is_not_a_state_dict_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    root = tmp_path / "bin"
    root.mkdir()
    (root / "config.json").write_text("{}")
    torch.save([torch.ones(2)], root / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match="not a state dict"):
        convert_checkpoint(root, tmp_path / "st")
    assert not (tmp_path / "st").exists()


def test_safetensors_input_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "st"
    root.mkdir()
    (root / "config.json").write_text("{}")
    (root / "model.safetensors").write_bytes(b"x")
    with pytest.raises(CheckpointError, match="already holds safetensors"):
        convert_checkpoint(root, tmp_path / "out")
