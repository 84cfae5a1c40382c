"""`model push`'s rules: which weights may be uploaded, and what `--deploy` records."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from llm_twin.control import local_target
from llm_twin.control.models import publish
from llm_twin.errors import CheckpointError, SettingsError

URI = "s3://bucket/models/twin/v1/"


def _pickle_checkpoint(root: Path) -> Path:
    root.mkdir()
    (root / "config.json").write_text('{"model_type": "llama"}')
    torch.save({"w": torch.arange(6, dtype=torch.float32)}, root / "pytorch_model.bin")
    return root


def test_safetensors_go_up_as_they_are(tmp_path: Path) -> None:
    root = tmp_path / "st"
    root.mkdir()
    (root / "config.json").write_text("{}")
    (root / "model.safetensors").write_bytes(b"x")
    prepared = publish.pushable(root, tmp_path / "scratch", convert=True)
    assert prepared.checkpoint.root == root and prepared.conversion is None


def test_pickle_weights_are_refused_without_convert(tmp_path: Path) -> None:
    root = _pickle_checkpoint(tmp_path / "bin")
    with pytest.raises(CheckpointError, match=r"holds pickle weights \(pytorch_model.bin\).*pass --convert"):
        publish.pushable(root, tmp_path / "scratch", convert=False)


def test_pickle_weights_are_converted_with_convert(tmp_path: Path) -> None:
    root = _pickle_checkpoint(tmp_path / "bin")
    prepared = publish.pushable(root, tmp_path / "scratch", convert=True)
    assert prepared.conversion is not None and prepared.conversion.tensors == 1
    assert prepared.checkpoint.weight_format == "safetensors"
    assert prepared.checkpoint.root == tmp_path / "scratch" / "bin"


def test_convert_without_the_local_extra_names_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _pickle_checkpoint(tmp_path / "bin")
    real = importlib.util.find_spec
    monkeypatch.setattr(
        local_target.importlib.util, "find_spec", lambda name: None if name == "torch" else real(name)
    )
    with pytest.raises(SettingsError, match=r"--convert needs torch, from the \[local\] extra: pip install"):
        publish.pushable(root, tmp_path / "scratch", convert=True)
    assert not (tmp_path / "scratch").exists()


def test_deploy_records_the_prefix_and_keeps_every_other_line(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("# mine\nHF_MODEL_ID=someone/else\nMESSAGES_API_ENABLED=false\n")
    written = publish.record_deploy(env_file, URI)
    assert written == {"MODEL_DATA_S3_URI": URI, "HF_MODEL_ID": "/opt/ml/model"}
    assert env_file.read_text() == (
        f"# mine\nHF_MODEL_ID=/opt/ml/model\nMESSAGES_API_ENABLED=false\nMODEL_DATA_S3_URI={URI}\n"
    )


@pytest.mark.parametrize(
    "environ",
    [{"MODEL_DATA_S3_URI": "s3://bucket/models/old/v0/"}, {"HF_MODEL_ID": "someone/else"}],
    ids=["uri", "model id"],
)
def test_an_environment_value_that_would_undo_deploy_is_refused(environ: dict[str, str]) -> None:
    (key,) = environ
    with pytest.raises(SettingsError, match=f"^{key}=.* is set in the environment, which overrides"):
        publish.check_deploy_environment(environ, URI)


def test_the_environment_may_already_say_the_same() -> None:
    publish.check_deploy_environment(publish.deploy_values(URI), URI)
    publish.check_deploy_environment({}, URI)
