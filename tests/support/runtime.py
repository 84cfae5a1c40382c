"""Endpoints on a real emulator, and the model-server processes behind them, for the runtime's tests.

`deploy` makes a model, a config and an endpoint serving a checkpoint on disk, straight
through boto3 (no Terraform); `wait_status` and `wait_settled` wait for what the runtime
does in the background; `children` and `server_of` find the model servers an emulator runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from llm_twin.client.stream import parse_generate_stream, payload_parts
from llm_twin.control.credentials import write_credentials
from llm_twin.control.deploy.deployment import Deployment
from llm_twin_local.aws.daemon import LocalAws, free_port
from tests.conftest import client, settings_for, stack_environ

ROLE = "arn:aws:iam::123456789012:role/r"
GREEDY_WITH_DETAILS = {"max_new_tokens": 24, "do_sample": False, "details": True, "return_full_text": False}
"""/invocations is TGI's POST /: without return_full_text false it answers with the prompt first."""
"""Deterministic generation parameters: the same request always streams the same events."""


def children(pid: int) -> set[int]:
    """The pids whose parent is `pid`, read from /proc."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_status(sagemaker: Any, name: str, wanted: str, timeout: float = 60) -> dict:
    """DescribeEndpoint once the endpoint's status is `wanted`; AssertionError after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = sagemaker.describe_endpoint(EndpointName=name)
        if answer["EndpointStatus"] == wanted:
            return answer
        time.sleep(0.2)
    raise AssertionError(f"{name} is {answer['EndpointStatus']}, not {wanted}: {answer.get('FailureReason')}")


def wait_settled(
    sagemaker: Any, name: str, timeout: float = 60, pending: tuple[str, ...] = ("Updating", "RollingBack")
) -> dict:
    """The endpoint once its status is no longer one of `pending` (it may have failed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = sagemaker.describe_endpoint(EndpointName=name)
        if answer["EndpointStatus"] not in pending:
            return answer
        time.sleep(0.2)
    raise AssertionError(f"{name} is still {answer['EndpointStatus']}")


def configure(
    sagemaker: Any, name: str, model_dir: Path | str, *, model_data: dict | None = None, **env: str
) -> None:
    """Model `<name>-model` and endpoint config `<name>-config` serving `model_dir` with `env`
    (and the container's `ModelDataSource`, when given)."""
    environment = {"HF_MODEL_ID": str(model_dir), "MAX_INPUT_TOKENS": "128", "MAX_TOTAL_TOKENS": "512", **env}
    container: dict[str, Any] = {"Image": "tgi:1", "Environment": environment}
    if model_data is not None:
        container["ModelDataSource"] = model_data
    create_model_and_config(sagemaker, name, container)


def create_model_and_config(
    sagemaker: Any, name: str, container: dict[str, Any], instance_type: str = "ml.g5.xlarge"
) -> None:
    """Model `<name>-model` with `container` and endpoint config `<name>-config` of one variant."""
    sagemaker.create_model(ModelName=f"{name}-model", ExecutionRoleArn=ROLE, PrimaryContainer=container)
    sagemaker.create_endpoint_config(
        EndpointConfigName=f"{name}-config",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": f"{name}-model",
                "InstanceType": instance_type,
                "InitialInstanceCount": 1,
            }
        ],
    )


def deploy(
    sagemaker: Any, name: str, model_dir: Path | str, *, model_data: dict | None = None, **env: str
) -> None:
    """`configure`, then CreateEndpoint `name` (it starts Creating)."""
    configure(sagemaker, name, model_dir, model_data=model_data, **env)
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-config")


@contextlib.contextmanager
def running_emulator(state_dir: Path, **env: str) -> Iterator[LocalAws]:
    """An emulator started with `env` added to its environment; stopped on exit.

    On the way out no model server it ran may outlive it (AssertionError otherwise).
    """
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    emulator = LocalAws(state_dir, free_port())
    try:
        emulator.up()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    try:
        yield emulator
    finally:
        pid = emulator.status().pid
        servers = children(pid) if pid else set()
        emulator.down()
        deadline = time.monotonic() + 10
        while any(alive(p) for p in servers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [p for p in servers if alive(p)]


def stream_events(port: int, name: str, parameters: dict) -> tuple[list, int]:
    """The events of one streamed generation of endpoint `name`, and how many PayloadParts carried them."""
    runtime = client(port, "sagemaker-runtime")
    body = json.dumps({"inputs": "Write a haiku about the cloud", "parameters": parameters, "stream": True})
    response = runtime.invoke_endpoint_with_response_stream(
        EndpointName=name, Body=body, ContentType="application/json"
    )
    parts = list(payload_parts(response["Body"]))
    return list(parse_generate_stream(parts)), len(parts)


def server_of(emulator: LocalAws, endpoint: str) -> int:
    """The pid of the model server behind `endpoint`: the child whose stdout is that endpoint's log."""
    emulator_pid = emulator.status().pid
    assert emulator_pid is not None
    for pid in children(emulator_pid):
        log_path = Path(os.readlink(f"/proc/{pid}/fd/1"))
        if log_path.parent == (emulator.dir / "endpoints").resolve() and log_path.name.startswith(
            f"{endpoint}-"
        ):
            return pid
    raise AssertionError(f"no model server serves {endpoint}")


def infer_process(
    emulator: LocalAws, tmp_path: Path, endpoint: str, prompt: str, max_new_tokens: str
) -> subprocess.Popen[bytes]:
    """`llm-twin infer` (greedy) as a real process, on `emulator`'s local target."""
    settings_env = stack_environ(emulator.dir.parent, emulator.port)
    credentials_path = Deployment(settings_for(settings_env)).credentials_path
    write_credentials(credentials_path, "test", "test", "arn:aws:iam::123456789012:user/local-admin")
    command = [
        str(Path(sys.executable).with_name("llm-twin")),
        "--env-file",
        str(tmp_path / "none.env"),
        "infer",
        prompt,
        "--endpoint",
        endpoint,
        "--temperature",
        "0",
        "--max-new-tokens",
        max_new_tokens,
    ]
    return subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **settings_env},
    )


def first_output(process: subprocess.Popen[bytes], timeout: float) -> bytes:
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
