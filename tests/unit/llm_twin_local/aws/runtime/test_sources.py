"""Endpoints whose model comes from S3 (`ModelDataSource`, CompressionType None), or from `.bin` weights.

A real emulator, real model-server processes, real boto3: the checkpoint is pushed to the
emulator's S3 by `ModelStore`, and the endpoint's server loads what it downloaded.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from llm_twin.client.stream import parse_generate_stream, payload_parts
from llm_twin.control.models.store import ModelStore
from llm_twin.protocol.checkpoints import file_sha256, inspect_checkpoint
from llm_twin_local.aws.daemon import LocalAws
from tests.conftest import client, emulator_with_bucket
from tests.support.runtime import deploy, wait_settled

pytestmark = pytest.mark.stack

BUCKET = "llm-twin-runtime-artifacts"


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAws]:
    with emulator_with_bucket(tmp_path_factory.mktemp("runtime-s3"), BUCKET) as emulator:
        yield emulator


def _endpoint(port: int, name: str, model_id: str, model_data: dict | None = None) -> dict:
    """The endpoint once it is no longer Creating: InService, or Failed with its reason."""
    sagemaker = client(port, "sagemaker")
    deploy(sagemaker, name, model_id, model_data=model_data)
    return wait_settled(sagemaker, name, timeout=180, pending=("Creating",))


def _model_server_commands() -> list[str]:
    """The command lines of every running model server on this machine."""
    commands = []
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "llm_twin_local.model_server" in command:
            commands.append(command)
    return commands


def _s3_source(uri: str) -> dict:
    return {"S3DataSource": {"S3Uri": uri, "S3DataType": "S3Prefix", "CompressionType": "None"}}


def _stream(port: int, name: str) -> list:
    runtime = client(port, "sagemaker-runtime")
    body = json.dumps(
        {"inputs": "Hello", "parameters": {"max_new_tokens": 8, "do_sample": False}, "stream": True}
    )
    response = runtime.invoke_endpoint_with_response_stream(
        EndpointName=name, Body=body, ContentType="application/json"
    )
    return list(parse_generate_stream(payload_parts(response["Body"])))


def test_endpoint_loads_the_pushed_prefix_and_streams(emulator: LocalAws, tiny_model: Path) -> None:
    s3 = client(emulator.port, "s3")
    checkpoint = inspect_checkpoint(tiny_model)
    pushed = ModelStore(s3, BUCKET).push(checkpoint, "tiny", "v1")
    described = _endpoint(emulator.port, "from-s3", "/opt/ml/model", _s3_source(pushed.uri))
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    images = [i["ResolvedImage"] for i in described["ProductionVariants"][0]["DeployedImages"]]
    assert images == [f"llm-twin-model-server:{pushed.uri}"]

    # The server was started on the download: the same bytes as the checkpoint, manifest left out.
    caches = [p for p in (emulator.dir / "model-cache").iterdir() if p.is_dir()]
    assert len(caches) == 1
    assert sorted(p.name for p in caches[0].iterdir()) == sorted(f.relative for f in checkpoint.files)
    assert file_sha256(caches[0] / "model.safetensors") == file_sha256(tiny_model / "model.safetensors")
    assert any(str(caches[0]) in command for command in _model_server_commands())

    events = _stream(emulator.port, "from-s3")
    assert len([e for e in events if e.token is not None]) == 8


def test_an_empty_prefix_fails_the_endpoint_with_a_reason(emulator: LocalAws) -> None:
    described = _endpoint(
        emulator.port, "empty-prefix", "/opt/ml/model", _s3_source(f"s3://{BUCKET}/models/none/v0/")
    )
    assert described["EndpointStatus"] == "Failed"
    assert "holds no objects" in described["FailureReason"]


def test_bin_weights_are_converted_at_boot(emulator: LocalAws, tiny_model: Path, tmp_path: Path) -> None:
    pickle_dir = tmp_path / "pickle"
    pickle_dir.mkdir()
    for item in tiny_model.iterdir():
        if item.suffix != ".safetensors":
            (pickle_dir / item.name).write_bytes(item.read_bytes())
    torch.save(load_file(tiny_model / "model.safetensors"), pickle_dir / "pytorch_model.bin")
    described = _endpoint(emulator.port, "from-bin", str(pickle_dir))
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    converted = list((emulator.dir / "model-cache").glob("converted-*/model.safetensors"))
    assert len(converted) == 1
    original, again = load_file(tiny_model / "model.safetensors"), load_file(converted[0])
    assert original.keys() == again.keys() and all(torch.equal(original[k], again[k]) for k in original)
    assert len([e for e in _stream(emulator.port, "from-bin") if e.token is not None]) == 8


@pytest.mark.parametrize(
    ("name", "remainder"),
    [
        ("dotdot", "../../../planted-dotdot"),
        ("absolute", "/{outside}/planted-absolute"),
    ],
)
def test_a_key_that_leaves_the_cache_fails_the_endpoint_and_writes_nothing_outside(
    emulator: LocalAws, tiny_model: Path, tmp_path: Path, name: str, remainder: str
) -> None:
    """A planted key next to a good model: the whole download fails, naming the key."""
    s3 = client(emulator.port, "s3")
    prefix = f"models/planted-{name}/v1/"
    for item in tiny_model.iterdir():
        s3.put_object(Bucket=BUCKET, Key=prefix + item.name, Body=item.read_bytes())
    outside = tmp_path / "outside"
    outside.mkdir()
    bad_key = prefix + remainder.format(outside=str(outside).lstrip("/"))
    s3.put_object(Bucket=BUCKET, Key=bad_key, Body=b"planted")
    cache = emulator.dir / "model-cache"
    before = set(cache.iterdir()) if cache.is_dir() else set()

    described = _endpoint(
        emulator.port, f"planted-{name}", "/opt/ml/model", _s3_source(f"s3://{BUCKET}/{prefix}")
    )

    assert described["EndpointStatus"] == "Failed"
    assert f"s3://{BUCKET}/{bad_key}" in described["FailureReason"]
    planted = f"planted-{name}"
    assert not list(emulator.dir.parent.parent.rglob(planted)) and not list(outside.iterdir())
    assert not (Path("/") / planted).exists()
    assert (set(cache.iterdir()) if cache.is_dir() else set()) == before  # not even a partial copy
