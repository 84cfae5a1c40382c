"""`llm-twin model push|list|rm`: bad input through CliRunner, and `push --deploy` end to end.

The end-to-end test is the issue's bar: a real subprocess pushes a checkpoint to the
applied stack's bucket with `--deploy`, and the endpoint then streams tokens from the
weights its server downloaded from that S3 prefix.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from llm_twin.cli.main import main
from llm_twin.client.stream import parse_generate_stream, payload_parts
from llm_twin.config import load_settings
from llm_twin.control.deploy.deployment import Deployment
from llm_twin.protocol.checkpoints import inspect_checkpoint
from llm_twin_local.model_server.checkpoint import SIZES, create_test_checkpoint
from tests.conftest import client, settings_for


def _invoke(tmp_path: Path, *args: str):
    return CliRunner().invoke(main, ["--env-file", str(tmp_path / "absent.env"), "model", *args])


def _config_only(root: Path) -> Path:
    root.mkdir()
    (root / "config.json").write_text('{"model_type": "llama"}')
    return root


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda root: root, "is not a directory"),
        (lambda root: (root.mkdir(), root)[1], "has no config.json"),
        (_config_only, "has config.json but no weights"),
    ],
)
def test_not_a_checkpoint_exits_2_with_one_line(tmp_path: Path, make, expected) -> None:
    result = _invoke(tmp_path, "push", str(make(tmp_path / "model")))
    assert result.exit_code == 2
    assert result.output.startswith("CheckpointError: ") and expected in result.output
    assert result.output.count("\n") == 1


def test_mixed_and_pickle_weights_are_refused_before_any_upload(tmp_path: Path) -> None:
    root = _config_only(tmp_path / "model")
    torch.save({"w": torch.ones(2)}, root / "pytorch_model.bin")
    refused = _invoke(tmp_path, "push", str(root))
    assert refused.exit_code == 2 and "holds pickle weights (pytorch_model.bin)" in refused.output
    assert "pass --convert" in refused.output
    (root / "model.safetensors").write_bytes(b"x")
    mixed = _invoke(tmp_path, "push", "--convert", str(root))
    assert mixed.exit_code == 2 and "mixes safetensors and pickle weights" in mixed.output


def test_bad_name_and_version_exit_2(tmp_path: Path) -> None:
    root = _config_only(tmp_path / "model")
    assert "model name 'bad name'" in _invoke(tmp_path, "push", "--name", "bad name", str(root)).output
    bad_version = _invoke(tmp_path, "push", "--version", "../up", str(root))
    assert bad_version.exit_code == 2 and "model version '../up' is invalid" in bad_version.output


def _run_cli(env: dict[str, str], env_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("HF_MODEL_ID", "MODEL_DATA_S3_URI")}
    return subprocess.run(
        [str(Path(sys.executable).parent / "llm-twin"), "--env-file", str(env_file), *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.mark.stack
def test_push_deploy_serves_the_weights_from_s3(fresh_env: dict[str, str], tmp_path: Path) -> None:
    shape = SIZES["tiny"]
    model_dir = create_test_checkpoint(
        tmp_path / "twin-tiny",
        hidden_size=shape.hidden_size,
        layers=shape.layers,
        vocab_size=shape.vocab_size,
        heads=shape.heads,
        intermediate_size=shape.intermediate_size,
        max_position_embeddings=8192,  # room for the default MAX_TOTAL_TOKENS
    )
    Deployment(settings_for(fresh_env)).apply()
    env_file = tmp_path / "project.env"
    env_file.write_text("# my settings\nMESSAGES_API_ENABLED=false\nHF_MODEL_ID=someone/else\n")

    pushed = _run_cli(fresh_env, env_file, "model", "push", str(model_dir), "--deploy")
    assert pushed.returncode == 0, pushed.stderr
    version = inspect_checkpoint(model_dir).default_version
    bucket = Deployment(settings_for(fresh_env)).bootstrap_outputs()["artifact_bucket_name"]
    uri = f"s3://{bucket}/models/twin-tiny/{version}/"
    assert f"pushed {uri}: 6 files uploaded" in pushed.stdout
    assert f"endpoint llm-twin-endpoint is InService, serving {uri}" in pushed.stdout
    assert env_file.read_text() == (
        f"# my settings\nMESSAGES_API_ENABLED=false\nHF_MODEL_ID=/opt/ml/model\nMODEL_DATA_S3_URI={uri}\n"
    )

    port = fresh_env["LOCAL_AWS_PORT"]
    described = client(port, "sagemaker").describe_endpoint(EndpointName="llm-twin-endpoint")
    assert [i["ResolvedImage"] for i in described["ProductionVariants"][0]["DeployedImages"]] == [
        f"llm-twin-model-server:{uri}"
    ]
    body = json.dumps(
        {"inputs": "Hello", "parameters": {"max_new_tokens": 6, "do_sample": False}, "stream": True}
    )
    response = client(port, "sagemaker-runtime").invoke_endpoint_with_response_stream(
        EndpointName="llm-twin-endpoint", Body=body, ContentType="application/json"
    )
    tokens = [e for e in parse_generate_stream(payload_parts(response["Body"])) if e.token is not None]
    assert len(tokens) == 6

    # The choice persisted: a plain plan with the same env file leaves the model and endpoint alone.
    replanned = Deployment(load_settings(fresh_env, env_file)).plan()
    touched = [c.addr for c in replanned.planned_changes if c.action not in ("noop", "read")]
    assert not [addr for addr in touched if addr.startswith("module.sagemaker_endpoint.")], touched

    again = _run_cli(fresh_env, env_file, "model", "push", str(model_dir))
    assert again.returncode == 0 and "0 files uploaded (0.0 MB), 6 unchanged" in again.stdout
    listed = _run_cli(fresh_env, env_file, "model", "list")
    assert f"twin-tiny                {version}" in listed.stdout and "complete" in listed.stdout
    assert "(deployed)" in listed.stdout
    removed = _run_cli(fresh_env, env_file, "model", "rm", "twin-tiny")
    assert (
        removed.returncode == 1
        and "ModelConflictError" in removed.stderr
        and "MODEL_DATA_S3_URI" in removed.stderr
    )
