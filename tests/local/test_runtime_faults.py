"""The runtime's injected faults against the real client: throttling, a stalled stream, Ctrl-C.

Each emulator gets its knobs through its environment, as LLM_TWIN_CHUNK_JITTER does
(see `llm_twin.local.runtime`); one emulator throttles, another stalls every stream.
Real emulator, real model server, real boto3, and `llm-twin infer` as a real process.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from llm_twin.credentials import write_credentials
from llm_twin.deploy import Deployment
from llm_twin.errors import AwsError, StreamTimeoutError
from llm_twin.inference import LLMInferenceSagemakerEndpoint, runtime_config
from llm_twin.local.daemon import LocalAws
from llm_twin.stream import TokenEvent
from tests.conftest import client, settings_for, stack_environ
from tests.local.test_runtime import _deploy, _emulator, _wait_status, tiny_model  # noqa: F401

pytestmark = pytest.mark.stack

PROMPT = "Write a haiku about the cloud"
STALL_AFTER_PARTS = 3
STALL_SECONDS = 30
"""Far longer than any read timeout below, and short enough that no stalled thread lingers."""


def _serving(tmp_path_factory: pytest.TempPathFactory, model_dir: Path, **env: str) -> Iterator[LocalAws]:
    """An emulator with `env` in its environment, serving the tiny model as endpoint "e"."""
    emulators = _emulator(tmp_path_factory, **env)
    emulator = next(emulators)
    try:
        sagemaker = client(emulator.port, "sagemaker")
        _deploy(sagemaker, "e", model_dir)
        _wait_status(sagemaker, "e", "InService")
        yield emulator
    finally:
        next(emulators, None)


@pytest.fixture(scope="module")
def throttling(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path) -> Iterator[LocalAws]:  # noqa: F811
    yield from _serving(tmp_path_factory, tiny_model, LLM_TWIN_THROTTLE_FIRST="4")


@pytest.fixture(scope="module")
def stalling(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path) -> Iterator[LocalAws]:  # noqa: F811
    yield from _serving(
        tmp_path_factory,
        tiny_model,
        LLM_TWIN_STALL_AFTER_PARTS=str(STALL_AFTER_PARTS),
        LLM_TWIN_STALL_SECONDS=str(STALL_SECONDS),
    )


def _runtime(port: int, read_timeout: float = 60.0):
    session = boto3.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name="eu-central-1"
    )
    return session.client(
        "sagemaker-runtime", endpoint_url=f"http://127.0.0.1:{port}", config=runtime_config(read_timeout)
    )


# -- throttling before the first byte -------------------------------------------------


def test_throttling_is_aws_shaped_retried_once_then_surfaced(throttling: LocalAws) -> None:
    """The emulator throttles its first 4 invocations: one raw call, then 2 + 1 through the client.

    In that order, on one emulator, because the count is the emulator's: the client's
    second call sees two throttles in a row (the N=2 case), its third sees one (N=1).
    """
    with pytest.raises(ClientError) as caught:
        _runtime(throttling.port).invoke_endpoint(EndpointName="e", Body=b"{}")
    assert caught.value.response["Error"]["Code"] == "ThrottlingException"
    assert caught.value.response["Error"]["Message"].startswith("Rate exceeded")
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400

    sdk = LLMInferenceSagemakerEndpoint("e", _runtime(throttling.port), throttle_backoff=0.1)
    sdk.set_payload(PROMPT, {"max_new_tokens": 4, "do_sample": False})
    with pytest.raises(AwsError) as surfaced:
        sdk.inference()
    assert str(surfaced.value).startswith(
        "endpoint 'e' is throttling requests (ThrottlingException), still after one retry 0.1s later"
    )
    assert "Rate exceeded" in str(surfaced.value)

    assert sdk.generate().generated_tokens  # throttled once more, and the single retry gets through


# -- a stream that goes silent ----------------------------------------------------------


@pytest.mark.timeout(60)
def test_a_stalled_stream_times_out_keeping_the_partial_text(stalling: LocalAws) -> None:
    sdk = LLMInferenceSagemakerEndpoint("e", _runtime(stalling.port, read_timeout=1.0))
    sdk.set_payload(PROMPT, {"max_new_tokens": 64, "do_sample": False})
    received: list[TokenEvent] = []
    started = time.monotonic()
    with pytest.raises(StreamTimeoutError) as caught:
        for event in sdk.stream():
            received.append(event)  # type: ignore[arg-type]
    assert time.monotonic() - started < STALL_SECONDS / 2
    assert 1 <= len(received) <= STALL_AFTER_PARTS
    assert caught.value.partial_text == "".join(e.token.text for e in received if not e.token.special)
    assert caught.value.partial_text


@pytest.mark.timeout(90)
def test_ctrl_c_mid_stream_exits_130_keeping_the_printed_text(stalling: LocalAws, tmp_path: Path) -> None:
    """`llm-twin infer` as a real process; SIGINT once text arrived, while the stream is stalled."""
    settings_env = stack_environ(stalling.dir.parent, stalling.port)
    credentials_path = Deployment(settings_for(settings_env)).credentials_path
    write_credentials(credentials_path, "test", "test", "arn:aws:iam::123456789012:user/local-admin")
    command = [
        str(Path(sys.executable).with_name("llm-twin")),
        "--env-file",
        str(tmp_path / "none.env"),
        "infer",
        PROMPT,
        "--endpoint",
        "e",
        "--temperature",
        "0",
        "--max-new-tokens",
        "64",
    ]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **settings_env},
    )
    try:
        first = _first_output(process, timeout=45)
        process.send_signal(signal.SIGINT)
        rest, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    stdout, errors = (first + rest).decode(), stderr.decode()
    assert process.returncode == 130, errors
    assert stdout.startswith(first.decode()) and stdout.strip() and stdout.endswith("\n")
    assert "Interrupted: the generation was stopped" in errors
    assert "Traceback" not in errors


def _first_output(process: subprocess.Popen[bytes], timeout: float) -> bytes:
    """The first bytes the process writes to stdout, read without blocking past `timeout`."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.1)
        if ready:
            data = os.read(process.stdout.fileno(), 4096)
            if data:
                return data
        if process.poll() is not None:
            raise AssertionError(f"llm-twin infer exited early: {process.stderr.read().decode()}")  # type: ignore[union-attr]
    raise AssertionError("llm-twin infer printed nothing in time")
