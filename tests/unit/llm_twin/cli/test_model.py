"""`llm-twin model push` through CliRunner against a bucket on a private emulator.

The store is the real one over real boto3; only `Deployment.model_store` is swapped, so
no bootstrap has to run to name the bucket.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from llm_twin.cli.main import main
from llm_twin.control.deploy.deployment import Deployment
from llm_twin.control.models import store as model_store
from llm_twin.control.models.store import ModelStore
from llm_twin.protocol.checkpoints import inspect_checkpoint
from tests.conftest import client, emulator_with_bucket

BUCKET = "llm-twin-cli-artifacts"


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with emulator_with_bucket(tmp_path_factory.mktemp("model-cli"), BUCKET) as emulator:
        yield client(emulator.port, "s3")


@pytest.fixture
def store(s3: Any, monkeypatch: pytest.MonkeyPatch) -> ModelStore:
    bucket = ModelStore(s3, BUCKET)
    monkeypatch.setattr(Deployment, "model_store", lambda self, *, as_admin=False: bucket)
    return bucket


def _checkpoint(root: Path) -> Path:
    root.mkdir()
    (root / "config.json").write_text('{"model_type": "llama"}')
    (root / "tokenizer.json").write_text("{}")
    (root / "model.safetensors").write_bytes(os.urandom(4096))
    return root


def _push(tmp_path: Path, *args: str):
    return CliRunner().invoke(
        main,
        ["--env-file", str(tmp_path / "none.env"), "model", "push", *args],
        env={"LLM_TWIN_STATE_DIR": str(tmp_path / "state")},
    )


def test_ctrl_c_mid_upload_says_the_prefix_stays_incomplete_and_a_rerun_resumes(
    store: ModelStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C lands while the transfer waits on its files, after the first one went up."""
    upload = model_store.upload_files

    def interrupted(
        s3: Any, config: Any, bucket: str, root: Path, prefix: str, files: list, *rest: Any
    ) -> None:
        upload(s3, config, bucket, root, prefix, files[:1], *rest)
        raise KeyboardInterrupt

    monkeypatch.setattr(model_store, "upload_files", interrupted)
    root = _checkpoint(tmp_path / "twin")
    version = inspect_checkpoint(root).default_version
    uri = f"s3://{BUCKET}/models/twin/{version}/"

    stopped = _push(tmp_path, str(root))
    assert stopped.exit_code == 130, stopped.output
    assert stopped.stderr.splitlines()[-1] == (
        f"Interrupted: the upload stopped; {uri} stays incomplete (no manifest, never deployed) "
        "and the same `llm-twin model push` resumes it."
    )
    assert [(m.uri, m.complete, m.objects) for m in store.list_models()] == [(uri, False, 1)]

    monkeypatch.setattr(model_store, "upload_files", upload)
    resumed = _push(tmp_path, str(root))
    assert resumed.exit_code == 0, resumed.output
    assert "2 files uploaded" in resumed.stdout and "1 unchanged" in resumed.stdout
    assert [(m.uri, m.complete) for m in store.list_models()] == [(uri, True)]


def test_ctrl_c_before_the_upload_says_nothing_went_up(
    store: ModelStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*_args: Any, **_kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr("llm_twin.control.models.publish.inspect_checkpoint", interrupted)
    stopped = _push(tmp_path, str(_checkpoint(tmp_path / "other")))
    assert (stopped.exit_code, stopped.stderr) == (130, "Interrupted: nothing was uploaded.\n")
    assert not [m for m in store.list_models() if m.name == "other"]
