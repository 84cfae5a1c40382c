"""A real model-server process on a free port (`python -m llm_twin_local.model_server`), for tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from llm_twin_local.aws.daemon import free_port

MAX_INPUT_TOKENS = 128
"""The limits of the session's `server` fixture (tests/unit/llm_twin_local/model_server/conftest.py)."""
MAX_TOTAL_TOKENS = 1024


@dataclass(frozen=True)
class Server:
    url: str
    process: subprocess.Popen

    def post(self, path: str, payload: object, **kwargs) -> requests.Response:
        return requests.post(self.url + path, json=payload, timeout=60, **kwargs)


def start_server(model_dir: Path, log_path: Path, *args: str, env: dict[str, str] | None = None) -> Server:
    """Start a server for `model_dir` with extra `args` and `env`; return once /health answers 200."""
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
