"""Remote state on the embedded emulator: the state bucket, the staged S3 backend, the lock."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from llm_twin.control.deploy.deployment import Deployment
from llm_twin.control.state import backend as state_backend
from tests.conftest import REPO, client, settings_for, stack_environ

BUCKET = "llm-twin-tfstate-123456789012"  # <prefix>-tfstate-<moto's account>


def run_cli(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "llm-twin"), "--env-file", "/nonexistent/.env", *args],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=600)
    return process.returncode, out, err


# -- pure: the rendered backend and the staged root ------------------------------------------


def test_backend_config_per_stack_and_target(tmp_path: Path) -> None:
    local = settings_for(stack_environ(tmp_path, 4599))
    config = state_backend.backend_config(local, "main", BUCKET)
    assert config["key"] == "llm-twin/main/terraform.tfstate"
    assert config["use_lockfile"] is True and config["encrypt"] is True
    assert config["endpoints"] == {"s3": "http://127.0.0.1:4599"} and config["use_path_style"] is True
    assert (
        state_backend.backend_config(local, "bootstrap", BUCKET)["key"]
        == "llm-twin/bootstrap/terraform.tfstate"
    )

    aws = settings_for(
        {"TARGET": "aws", "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"}
    )
    remote = state_backend.backend_config(aws, "main", "my-state")
    assert remote == {
        "bucket": "my-state",
        "key": "llm-twin/main/terraform.tfstate",
        "region": "us-east-1",
        "use_lockfile": True,
        "encrypt": True,
    }
    assert state_backend.render_tfbackend(remote).splitlines() == [
        'bucket = "my-state"',
        'key = "llm-twin/main/terraform.tfstate"',
        'region = "us-east-1"',
        "use_lockfile = true",
        "encrypt = true",
    ]
    assert 'endpoints = { s3 = "http://127.0.0.1:4599" }' in state_backend.render_tfbackend(config)


def test_staged_root_carries_the_override_and_the_source_does_not(tmp_path: Path) -> None:
    terraform_dir = REPO / "terraform"
    root = state_backend.stage_stack(terraform_dir, "bootstrap", tmp_path / "source")
    assert (root / "backend_override.tf").read_text() == state_backend.BACKEND_OVERRIDE
    assert (root.parent / "modules" / "iam" / "main.tf").is_file()  # ../modules resolves in the copy
    assert not (root.parent / ".terraform").exists()
    assert not list(terraform_dir.rglob("backend_override.tf"))

    # An up-to-date copy is not rewritten: a run applying from it keeps its files.
    before = (root / "main.tf").stat().st_mtime_ns
    state_backend.stage_stack(terraform_dir, "bootstrap", tmp_path / "source")
    assert (root / "main.tf").stat().st_mtime_ns == before


# -- against the emulator ---------------------------------------------------------------------


@pytest.mark.stack
def test_bootstrap_state_twice_is_a_no_op(fresh_env: dict[str, str]) -> None:
    # Before it: the s3 backend names the missing bucket and the command that makes it.
    code, _, err = finish(run_cli({**fresh_env, "STATE_BACKEND": "s3"}, "bootstrap"))
    assert code == 1
    assert f"StateError: STATE_BACKEND=s3 but the state bucket {BUCKET} does not exist" in err
    assert "llm-twin bootstrap-state" in err

    first = finish(run_cli(fresh_env, "bootstrap-state"))
    assert first[0] == 0, first[2]
    assert f"created the state bucket {BUCKET}" in first[1]
    second = finish(run_cli(fresh_env, "bootstrap-state"))
    assert second[0] == 0, second[2]
    assert f"state bucket {BUCKET} already encrypted, versioned and private: nothing changed" in second[1]

    s3 = client(fresh_env["LOCAL_AWS_PORT"], "s3")
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    rules = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    block = s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]
    assert all(block.values()) and len(block) == 4
    tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=BUCKET)["TagSet"]}
    policy = json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])
    assert policy["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert tags["project"] == "llm-twin"
    backend = (Path(fresh_env["LLM_TWIN_STATE_DIR"]) / "local" / "main" / "backend.s3.tfbackend").read_text()
    assert "use_lockfile = true" in backend and f'bucket = "{BUCKET}"' in backend


def _lock_operation(s3, key: str) -> str | None:
    try:
        body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    except ClientError:
        return None
    return json.loads(body).get("Operation")


@pytest.mark.stack
def test_two_concurrent_applies_one_fails_on_the_lock(fresh_env: dict[str, str], tmp_path: Path) -> None:
    """Also, since its apply is paid for: the async endpoint variant answers `infer --async`."""
    env = {**fresh_env, "STATE_BACKEND": "s3", "ASYNC_INFERENCE_ENABLED": "true"}
    port = env["LOCAL_AWS_PORT"]
    assert finish(run_cli(env, "bootstrap-state"))[0] == 0
    Deployment(settings_for(env)).bootstrap()

    # A second checkout (another person) sharing the same emulator, credentials and state bucket.
    other_dir = tmp_path / "other-checkout"
    (other_dir / "emulator").mkdir(parents=True)
    state_dir = Path(env["LLM_TWIN_STATE_DIR"])
    shutil.copy(state_dir / "emulator" / "emulator.pid", other_dir / "emulator" / "emulator.pid")
    (other_dir / "local").mkdir()
    shutil.copy(
        state_dir / "local" / "sagemaker_user_credentials.json",
        other_dir / "local" / "sagemaker_user_credentials.json",
    )
    other_env = {**env, "LLM_TWIN_STATE_DIR": str(other_dir)}

    s3 = client(port, "s3")
    lock_key = state_backend.lock_key(settings_for(env), "main")
    first = run_cli(env, "apply", "--no-wait")
    try:
        deadline = time.monotonic() + 300
        while _lock_operation(s3, lock_key) != "OperationTypeApply":
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "the first apply never took the lock for its apply"
            time.sleep(0.5)
        second = finish(run_cli(other_env, "apply", "--no-wait"))
    finally:
        first_result = finish(first)

    assert first_result[0] == 0, first_result[2]
    code, _, err = second
    assert code == 1, err
    assert "StateLockedError:" in err
    assert "the state is locked by another run (held by" in err and "for OperationTypeApply" in err
    assert "terraform force-unlock" in err

    # The winner's state is in the bucket and its lock is gone.
    state = json.loads(s3.get_object(Bucket=BUCKET, Key="llm-twin/main/terraform.tfstate")["Body"].read())
    assert any(r["type"] == "aws_sagemaker_endpoint" for r in state["resources"])
    assert _lock_operation(s3, lock_key) is None

    # The applied async variant: the payload goes to the artifact bucket, the answer comes back.
    sagemaker = client(port, "sagemaker")
    deadline = time.monotonic() + 300
    while sagemaker.describe_endpoint(EndpointName="llm-twin-endpoint")["EndpointStatus"] != "InService":
        assert time.monotonic() < deadline, "the endpoint never reached InService"
        time.sleep(1)
    code, out, err = finish(run_cli(env, "infer", "--async", "--json", "--max-new-tokens", "4", "Hello"))
    assert code == 0, err
    submitted, result = (json.loads(line) for line in out.splitlines())
    assert submitted["output_location"].startswith("s3://llm-twin-artifacts-")
    assert "/async/output/" in submitted["output_location"]
    assert result["event"] == "result" and result["generated_tokens"] == 4
