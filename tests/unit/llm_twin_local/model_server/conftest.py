"""One real server on a free port, with the tiny checkpoint, for the whole session."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from llm_twin_local.model_server.checkpoint import create_sized_checkpoint

MAX_INPUT_TOKENS = 128
MAX_TOTAL_TOKENS = 1024


@dataclass(frozen=True)
class Server:
    url: str
    process: subprocess.Popen

    def post(self, path: str, payload: object, **kwargs) -> requests.Response:
        return requests.post(self.url + path, json=payload, timeout=60, **kwargs)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return create_sized_checkpoint(tmp_path_factory.mktemp("tiny-model"), "tiny")


def start_server(model_dir: Path, log_path: Path, *args: str, env: dict[str, str] | None = None) -> Server:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llm_twin_local.model_server",
            "--model-dir",
            str(model_dir),
            "--port",
            str(port),
            *args,
        ],
        env={**os.environ, **(env or {})},
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            if requests.get(url + "/health", timeout=1).status_code == 200:
                return Server(url, process)
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"server did not become healthy:\n{log_path.read_text()}")


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@pytest.fixture(scope="session")
def server(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    log_path = tmp_path_factory.mktemp("server-log") / "server.log"
    running = start_server(
        tiny_model,
        log_path,
        "--max-total-tokens",
        str(MAX_TOTAL_TOKENS),
        # The flag must win over the environment variable.
        env={"MAX_INPUT_TOKENS": str(MAX_INPUT_TOKENS), "MAX_TOTAL_TOKENS": "64", "MAX_BATCH_SIZE": "16"},
    )
    yield running
    stop_server(running)
