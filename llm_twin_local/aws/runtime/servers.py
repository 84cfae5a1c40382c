"""One model-server process per endpoint variant: start it, wait for its /ping, watch it, stop it.

The process is `python -m llm_twin_local.model_server` on a free loopback port, started
on a lifeline (see `reaper`), so it ends with the emulator however the emulator ends.
A TGI container's server reads TGI's variables from the environment it inherits; a vLLM
container's gets the flags the container's entrypoint would make of its SM_VLLM_* variables
(`vllm_arguments`), and `--api vllm`.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from llm_twin_local.aws.daemon import free_port
from llm_twin_local.aws.runtime import reaper
from llm_twin_local.aws.runtime.choice import ModelChoice
from llm_twin_local.aws.runtime.hub import Transfer

log = logging.getLogger(__name__)

DEFAULT_STARTUP_TIMEOUT = 600.0
PING_INTERVAL = 0.2
STOP_GRACE = 5.0
TGI_ENVIRONMENT = "HF_MODEL_ID"
"""The container variable that makes a model a TGI one, and names what it serves."""
VLLM_PREFIX = "SM_VLLM_"
VLLM_OWN_VARIABLES = frozenset({"SM_VLLM_MODEL", "SM_VLLM_HOST", "SM_VLLM_PORT"})
"""What the runtime sets itself: the model's local directory, loopback, a free port."""


def vllm_arguments(environment: Mapping[str, str], skip: frozenset[str] = frozenset()) -> list[str]:
    """The vLLM server flags of a container's SM_VLLM_* variables, as its SageMaker entrypoint makes them.

    `SM_VLLM_<NAME>=v` becomes `--<name, lowercased, _ as -> v`; an empty value or `true` a
    bare flag, `false` nothing (aws/deep-learning-containers `sagemaker_entrypoint.sh` and its
    configuration docs). Sorted by name, for a command line that does not depend on dict order.
    """
    arguments: list[str] = []
    for key in sorted(environment):
        if not key.startswith(VLLM_PREFIX) or key == VLLM_PREFIX or key in skip:
            continue
        flag = "--" + key.removeprefix(VLLM_PREFIX).lower().replace("_", "-")
        value = environment[key]
        if value.lower() == "false":
            continue
        arguments += [flag] if value in ("", "true", "True") else [flag, value]
    return arguments


@dataclass
class ModelServer:
    """One model-server process serving one production variant of one endpoint."""

    endpoint_name: str
    variant_name: str
    model_name: str
    model_dir: Path | None
    """None while the stand-in is still being made."""
    stand_in: bool
    log_path: Path
    model_data_uri: str | None = None
    """The container's ModelDataSource S3 prefix; downloaded from the emulator's S3 before the start."""
    account_id: str = ""
    choice: ModelChoice | None = None
    """What the container asked for; None for a server started without a container (tests)."""
    transfer: Transfer | None = None
    """The Hub download's bytes, while (and after) it runs."""
    stand_in_reason: str | None = None
    """Why the stand-in serves instead of the model asked for."""
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    ready: bool = False
    failure: str | None = None
    stopping: bool = False
    changed: threading.Condition = field(default_factory=threading.Condition)

    @property
    def host(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """Terminate, then kill after a grace period; safe to call twice."""
        self.stopping = True
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(STOP_GRACE)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def spawn(server: ModelServer, environment: dict[str, str], registry: reaper.Registry) -> None:
    """Start the server's process on a free port, its `model_dir` being ready; raises OSError."""
    server.port = free_port()
    env = {**os.environ, **environment}
    # Several servers share two cores with the emulator; one thread each is plenty for the tiny model.
    env.setdefault("OMP_NUM_THREADS", "1")
    env.pop("PORT", None)
    choice = server.choice
    command = [
        sys.executable,
        "-m",
        reaper.MODEL_SERVER_MODULE,
        "--model-dir",
        str(server.model_dir),
        "--port",
        str(server.port),
        "--model-id",
        choice.model_id if choice is not None else environment[TGI_ENVIRONMENT],
    ]
    if choice is not None and choice.api == "vllm":
        command += ["--api", "vllm", "--model", choice.model_id]
        command += vllm_arguments(environment, VLLM_OWN_VARIABLES)
    if choice is not None and choice.dtype is not None and not server.stand_in:
        command += ["--dtype", choice.dtype]
    with open(server.log_path, "ab") as log_file:
        server.process = reaper.spawn(
            command,
            registry=registry,
            port=server.port,
            stdout=log_file,
            env=env,
        )


def await_ready(server: ModelServer, timeout: float) -> bool:
    """True once /ping answers 200; False (with `failure` set) when it dies or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.stopping or server.failure:
            return False
        process = server.process
        if process is not None:
            if process.poll() is not None:
                server.failure = exit_reason(server, process.returncode)
                return False
            if _pings(server.port):
                server.ready = True
                log.info("endpoint %s: model server on port %d is ready", server.endpoint_name, server.port)
                return True
        with server.changed:
            server.changed.wait(PING_INTERVAL)
    transfer = server.transfer
    if transfer is not None and server.model_dir is None:
        # On SageMaker TGI downloads inside the container, so the download counts against this timeout too.
        server.failure = (
            f"The model download did not finish within the {timeout:.0f}s the variant allows its container "
            f"to start (HEALTH_CHECK_TIMEOUT): {transfer.done} of {transfer.total} bytes are kept in the "
            "Hugging Face cache and the next apply resumes; raise HEALTH_CHECK_TIMEOUT for a slow link"
        )
    else:
        server.failure = (
            f"The primary container for production variant {server.variant_name} did not pass the ping "
            f"health check within {timeout:.0f}s. See {server.log_path}"
        )
    server.stop()
    server.stopping = False
    return False


def watch(server: ModelServer, on_exit: Callable[[], None]) -> None:
    """In a thread, wait for the process to end; an exit nobody asked for sets `failure` and calls `on_exit`."""

    def wait() -> None:
        assert server.process is not None
        code = server.process.wait()
        if server.stopping:
            return
        server.failure = exit_reason(server, code)
        log.warning("endpoint %s: %s", server.endpoint_name, server.failure)
        on_exit()

    threading.Thread(target=wait, name=f"watch-{server.endpoint_name}", daemon=True).start()


def exit_reason(server: ModelServer, code: int) -> str:
    return (
        f"The primary container for production variant {server.variant_name} exited with code {code}. "
        f"See {server.log_path}"
    )


def gone(server: ModelServer) -> bool:
    """True when the server process has exited; its socket closes a moment before it is reaped."""
    process = server.process
    if process is None:
        return True
    try:
        process.wait(1.0)
    except subprocess.TimeoutExpired:
        return False
    return True


def _pings(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=1) as reply:
            status: int = reply.status
            return status == 200
    except (urllib.error.URLError, OSError):
        return False
