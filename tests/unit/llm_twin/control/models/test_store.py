"""`ModelStore` against a real emulator through real boto3: push, verify, resume, conflicts, rm.

The checkpoints here are config.json plus random bytes named like weights: the store
never parses them, and 12 MB with a 5 MiB part size makes every weight file multipart.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from boto3.s3.transfer import TransferConfig

from llm_twin.control.models.store import CHECKSUM_METADATA, MANIFEST, ModelStore
from llm_twin.errors import ModelConflictError, ModelStoreError
from llm_twin.protocol.checkpoints import inspect_checkpoint, model_prefix
from tests.conftest import client, emulator_with_bucket

BUCKET = "llm-twin-test-artifacts"
MiB = 1024 * 1024
SMALL_PARTS = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB, max_concurrency=4)


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    with emulator_with_bucket(tmp_path_factory.mktemp("store"), BUCKET) as emulator:
        yield client(emulator.port, "s3")


def _checkpoint(root: Path, seed: int = 0, weights: int = 12 * MiB) -> Path:
    root.mkdir(parents=True)
    (root / "config.json").write_text(f'{{"seed": {seed}}}')
    (root / "tokenizer.json").write_text("{}")
    (root / "model.safetensors").write_bytes(os.urandom(weights))
    return root


def test_push_is_multipart_verified_and_listed(s3, tmp_path: Path) -> None:
    checkpoint = inspect_checkpoint(_checkpoint(tmp_path / "m"))
    heard: list[int] = []
    planned: list[int] = []
    store = ModelStore(s3, BUCKET, SMALL_PARTS)
    result = store.push(checkpoint, "first", "v1", on_bytes=heard.append, on_plan=planned.append)
    assert result.uri == f"s3://{BUCKET}/models/first/v1/"
    assert sorted(result.uploaded) == ["config.json", "model.safetensors", "tokenizer.json"]
    assert planned == [checkpoint.total_bytes] and sum(heard) == checkpoint.total_bytes
    weights = s3.head_object(Bucket=BUCKET, Key="models/first/v1/model.safetensors")
    assert weights["ETag"].strip('"').endswith("-3")  # three 5 MiB parts
    sha = {f.relative: f.sha256 for f in checkpoint.files}["model.safetensors"]
    assert weights["Metadata"][CHECKSUM_METADATA] == sha
    listed = {m.version: m for m in store.list_models() if m.name == "first"}
    assert (
        listed["v1"].complete and listed["v1"].objects == 3 and listed["v1"].bytes == checkpoint.total_bytes
    )


def test_rerun_uploads_only_what_changed(s3, tmp_path: Path) -> None:
    root = _checkpoint(tmp_path / "m")
    store = ModelStore(s3, BUCKET, SMALL_PARTS)
    store.push(inspect_checkpoint(root), "rerun", "v1")
    again = store.push(inspect_checkpoint(root), "rerun", "v1", force=True)
    assert again.uploaded == () and again.bytes_uploaded == 0
    (root / "tokenizer.json").write_text('{"changed": true}')
    changed = store.push(inspect_checkpoint(root), "rerun", "v1", force=True)
    assert changed.uploaded == ("tokenizer.json",)
    assert (
        store.manifest(model_prefix("rerun", "v1"))["files"][2]["sha256"]
        == inspect_checkpoint(root).files[2].sha256
    )


def test_a_new_version_uploads_only_the_changed_files(s3, tmp_path: Path) -> None:
    root = _checkpoint(tmp_path / "m")
    store = ModelStore(s3, BUCKET, SMALL_PARTS)
    first = inspect_checkpoint(root)
    store.push(first, "versions", first.default_version)
    (root / "tokenizer.json").write_text('{"changed": true}')
    second = inspect_checkpoint(root)
    result = store.push(second, "versions", second.default_version)
    assert result.uploaded == ("tokenizer.json",) and result.bytes_uploaded == len('{"changed": true}')
    assert sorted(result.copied) == ["config.json", "model.safetensors"]
    stored = s3.get_object(Bucket=BUCKET, Key=f"models/versions/{second.default_version}/model.safetensors")
    assert stored["Body"].read() == (root / "model.safetensors").read_bytes()
    assert stored["Metadata"][CHECKSUM_METADATA] == second.files[1].sha256


def test_interrupted_push_is_never_complete_and_a_rerun_finishes_it(s3, tmp_path: Path) -> None:
    checkpoint = inspect_checkpoint(_checkpoint(tmp_path / "m"))
    store = ModelStore(s3, BUCKET, SMALL_PARTS)
    sent = []

    def cut_the_cable(count: int) -> None:
        """Fails the part being read once 6 MiB went out: the weights' upload dies halfway."""
        sent.append(count)
        if sum(sent) > 6 * MiB:
            raise ConnectionResetError("cable cut")

    with pytest.raises(ModelStoreError, match="no manifest was written, re-run the push"):
        store.push(checkpoint, "cut", "v1", on_bytes=cut_the_cable)
    prefix = model_prefix("cut", "v1")
    assert "model.safetensors" not in store.stored_objects(prefix)
    assert store.manifest(prefix) is None
    assert [m.complete for m in store.list_models() if m.name == "cut"] == [False]

    finished = store.push(checkpoint, "cut", "v1")
    assert finished.uploaded == ("model.safetensors",)
    assert sorted(finished.skipped) == ["config.json", "tokenizer.json"]
    assert [m.complete for m in store.list_models() if m.name == "cut"] == [True]


def test_a_different_model_at_the_prefix_needs_force(s3, tmp_path: Path) -> None:
    store = ModelStore(s3, BUCKET, SMALL_PARTS)
    first = inspect_checkpoint(_checkpoint(tmp_path / "a", seed=1, weights=1000))
    (tmp_path / "a" / "extra.txt").write_text("only in the first model")
    first = inspect_checkpoint(tmp_path / "a")
    store.push(first, "clash", "v1")
    other = inspect_checkpoint(_checkpoint(tmp_path / "b", seed=2, weights=1000))
    with pytest.raises(ModelConflictError, match="already holds a different model.*--force"):
        store.push(other, "clash", "v1")
    prefix = model_prefix("clash", "v1")
    assert store.manifest(prefix)["files"] == [
        {"path": f.relative, "size": f.size, "sha256": f.sha256} for f in first.files
    ]

    replaced = store.push(other, "clash", "v1", force=True)
    assert replaced.removed == ("extra.txt",)
    assert sorted(store.stored_objects(prefix)) == sorted([MANIFEST, *(f.relative for f in other.files)])


def test_rm_refuses_the_deployed_prefix_then_removes(s3, tmp_path: Path) -> None:
    store = ModelStore(s3, BUCKET, SMALL_PARTS)
    checkpoint = inspect_checkpoint(_checkpoint(tmp_path / "m", weights=1000))
    uri = store.push(checkpoint, "gone", "v1").uri
    store.push(checkpoint, "gone", "v2")
    with pytest.raises(ModelConflictError, match="MODEL_DATA_S3_URI deploys"):
        store.remove("gone", keep_uri=uri)
    assert store.remove("gone", "v2", keep_uri=uri) == [f"s3://{BUCKET}/models/gone/v2/"]
    assert store.remove("gone") == [uri]
    assert not [m for m in store.list_models() if m.name == "gone"]
    with pytest.raises(ModelStoreError, match="no model gone"):
        store.remove("gone")


def test_a_missing_bucket_names_the_fix(s3, tmp_path: Path) -> None:
    checkpoint = inspect_checkpoint(_checkpoint(tmp_path / "m", weights=10))
    with pytest.raises(ModelStoreError, match="does not exist yet: run `make apply`"):
        ModelStore(s3, "llm-twin-no-such-bucket").push(checkpoint, "x", "v1")
