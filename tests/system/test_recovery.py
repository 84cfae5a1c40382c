"""A Failed endpoint is recovered by the next `llm-twin apply` (issue 12, defect 7).

Through the real CLI, real Terraform and the real emulator, one fresh target carries one
sequence (each apply costs tens of seconds, so the tests share it):

    apply                                   -> InService
    SIGKILL the model server                -> the endpoint goes Failed
    apply                                   -> replaced, InService, and it answers
    SIGKILL again, apply a model that cannot start
                                            -> exit 1 naming the command that replaces it
    that command, with the model fixed      -> InService again
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from llm_twin_local.aws.daemon import LocalAws
from tests.conftest import client, private_target
from tests.support.runtime import server_of as _server_of

pytestmark = pytest.mark.stack

ENDPOINT = "llm-twin-endpoint"
ADDRESS = "module.sagemaker_endpoint.aws_sagemaker_endpoint.this"
SEQUENCE_TIMEOUT = 1500


@dataclass
class RecoveryRecord:
    """What the sequence did, for the tests to check."""

    failure_reason: str = ""
    recovered: subprocess.CompletedProcess[str] | None = None
    recovered_status: str = ""
    generated: list = field(default_factory=list)
    broken: subprocess.CompletedProcess[str] | None = None
    fixed: subprocess.CompletedProcess[str] | None = None
    fixed_status: str = ""


def _apply(env: dict[str, str], **overrides: str) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).parent / "llm-twin"), "--env-file", "/nonexistent/.env", "apply"]
    return subprocess.run(
        command, env={**os.environ, **env, **overrides}, capture_output=True, text=True, timeout=600
    )


def _fail_the_endpoint(env: dict[str, str]) -> str:
    """SIGKILL the endpoint's model server; SageMaker's FailureReason once it is Failed."""
    emulator = LocalAws(Path(env["LLM_TWIN_STATE_DIR"]), int(env["LOCAL_AWS_PORT"]))
    os.kill(_server_of(emulator, ENDPOINT), signal.SIGKILL)
    sagemaker = client(env["LOCAL_AWS_PORT"], "sagemaker")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        described = sagemaker.describe_endpoint(EndpointName=ENDPOINT)
        if described["EndpointStatus"] == "Failed":
            return described["FailureReason"]
        time.sleep(0.2)
    raise AssertionError(f"{ENDPOINT} did not go Failed")


def _status(env: dict[str, str]) -> str:
    return client(env["LOCAL_AWS_PORT"], "sagemaker").describe_endpoint(EndpointName=ENDPOINT)[
        "EndpointStatus"
    ]


@pytest.fixture(scope="module")
def recovery(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RecoveryRecord]:
    record = RecoveryRecord()
    not_a_model = tmp_path_factory.mktemp("not-a-model")  # no config.json: its server exits at once
    with private_target(tmp_path_factory.mktemp("recovery") / "state") as env:
        first = _apply(env)
        assert first.returncode == 0, first.stderr

        record.failure_reason = _fail_the_endpoint(env)
        record.recovered = _apply(env)
        record.recovered_status = _status(env)
        if record.recovered_status != "InService":
            yield record  # the tests say what went wrong; nothing below can run without a server
            return
        answer = client(env["LOCAL_AWS_PORT"], "sagemaker-runtime").invoke_endpoint(
            EndpointName=ENDPOINT,
            Body=json.dumps({"inputs": "Hello", "parameters": {"max_new_tokens": 4}}),
            ContentType="application/json",
        )
        record.generated = json.loads(answer["Body"].read())

        _fail_the_endpoint(env)
        record.broken = _apply(env, HF_MODEL_ID=str(not_a_model))
        record.fixed = _apply(env)
        record.fixed_status = _status(env)
        yield record


@pytest.mark.timeout(SEQUENCE_TIMEOUT)
def test_apply_replaces_a_failed_endpoint_and_it_serves_again(recovery: RecoveryRecord) -> None:
    assert "exited with code -9" in recovery.failure_reason
    assert recovery.recovered is not None
    assert recovery.recovered.returncode == 0, recovery.recovered.stderr
    said = [line for line in recovery.recovered.stdout.splitlines() if "replacing it" in line]
    assert said == [
        f"» endpoint {ENDPOINT} is Failed ({recovery.failure_reason}): replacing it (terraform -replace={ADDRESS})"
    ]
    assert recovery.recovered_status == "InService"
    assert recovery.generated and "generated_text" in recovery.generated[0]


@pytest.mark.timeout(SEQUENCE_TIMEOUT)
def test_an_apply_that_ends_failed_names_the_command_that_replaces_it(recovery: RecoveryRecord) -> None:
    assert recovery.broken is not None, "the sequence stopped before the broken apply"
    assert recovery.broken.returncode == 1, recovery.broken.stderr
    last = recovery.broken.stderr.strip().splitlines()[-1]
    assert last.startswith(f"EndpointFailedError: endpoint '{ENDPOINT}' failed: The primary container ")
    assert last.endswith(
        f"; once its cause is fixed, `llm-twin apply` replaces it (terraform apply -replace={ADDRESS})"
    )
    assert recovery.fixed is not None and recovery.fixed.returncode == 0, recovery.fixed.stderr
    assert recovery.fixed_status == "InService"
