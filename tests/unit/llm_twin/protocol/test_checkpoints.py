"""Checkpoint inspection and names: pure logic over directories made in tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from llm_twin.errors import CheckpointError, SettingsError
from llm_twin.protocol.checkpoints import inspect_checkpoint, model_name, model_prefix, model_version


def _checkpoint(root: Path, *names: str, config: str = '{"model_type": "llama"}') -> Path:
    root.mkdir(parents=True, exist_ok=True)
    if config is not None:
        (root / "config.json").write_text(config)
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(name.encode() * 10)
    return root


def test_safetensors_checkpoint_lists_hashes_and_versions_by_content(tmp_path: Path) -> None:
    root = _checkpoint(tmp_path / "m", "model.safetensors", "tokenizer.json", ".git/HEAD", ".cache/x")
    checkpoint = inspect_checkpoint(root)
    assert checkpoint.weight_format == "safetensors"
    assert [f.relative for f in checkpoint.files] == ["config.json", "model.safetensors", "tokenizer.json"]
    assert checkpoint.weights == ("model.safetensors",)
    again = inspect_checkpoint(_checkpoint(tmp_path / "copy", "model.safetensors", "tokenizer.json"))
    assert again.default_version == checkpoint.default_version and len(checkpoint.default_version) == 12
    (root / "tokenizer.json").write_text("changed")
    assert inspect_checkpoint(root).default_version != checkpoint.default_version


def test_pickle_checkpoint_is_classified_and_trainer_state_is_not_weights(tmp_path: Path) -> None:
    root = _checkpoint(tmp_path / "m", "pytorch_model.bin", "training_args.bin")
    assert inspect_checkpoint(root).weights == ("pytorch_model.bin",)
    assert inspect_checkpoint(root).weight_format == "pickle"


@pytest.mark.parametrize(
    ("names", "config", "message"),
    [
        (("model.safetensors",), None, "has no config.json"),
        (("tokenizer.json",), '{"a": 1}', "has config.json but no weights"),
        (("model.safetensors", "pytorch_model.bin"), '{"a": 1}', "mixes safetensors and pickle weights"),
        (("model.safetensors",), "{not json", "is not valid JSON"),
    ],
)
def test_not_a_checkpoint_is_a_usage_error(tmp_path: Path, names, config, message) -> None:
    with pytest.raises(CheckpointError, match=message) as caught:
        inspect_checkpoint(_checkpoint(tmp_path / "m", *names, config=config))
    assert isinstance(caught.value, SettingsError) and caught.value.exit_code == 2


def test_a_file_is_not_a_checkpoint(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(CheckpointError, match="is not a directory"):
        inspect_checkpoint(tmp_path / "f")


def test_names_and_versions() -> None:
    assert model_name("TwinLlama-3.1-8B") == "twinllama-3.1-8b"
    assert model_prefix("twin", "v1") == "models/twin/v1/"
    assert model_version("v1.2_rc-3") == "v1.2_rc-3"
    for bad in ("", "two words", "-lead", "a/b", "x" * 64):
        with pytest.raises(CheckpointError, match="model name"):
            model_name(bad)
    for bad in ("", "../x", "a/b", ".hidden"):
        with pytest.raises(CheckpointError, match="model version"):
            model_version(bad)
