"""A model-server process seen from the runtime: ready, dead, timed out, stopped, watched.

Plain Python processes stand in for the model server here; the endpoint tests run the real one.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from llm_twin_local.aws.runtime.servers import ModelServer, await_ready, exit_reason, gone, watch


def _server(tmp_path: Path, script: str | None) -> ModelServer:
    server = ModelServer(
        endpoint_name="e",
        variant_name="AllTraffic",
        model_name="m",
        model_dir=tmp_path,
        stand_in=False,
        log_path=tmp_path / "e.log",
    )
    if script is not None:
        server.process = subprocess.Popen([sys.executable, "-c", script])
    return server


def test_a_server_that_exits_before_its_ping_fails_with_its_exit_code(tmp_path: Path) -> None:
    server = _server(tmp_path, "raise SystemExit(3)")
    assert not await_ready(server, timeout=30)
    assert server.failure == (
        f"The primary container for production variant AllTraffic exited with code 3. See {tmp_path / 'e.log'}"
    )
    assert not server.ready and gone(server)


def test_a_server_that_never_answers_times_out_and_is_stopped(tmp_path: Path) -> None:
    server = _server(tmp_path, "import time; time.sleep(60)")
    server.port = 9  # discard: nothing answers /ping there
    assert not await_ready(server, timeout=0.5)
    assert server.failure is not None and server.failure.startswith(
        "The primary container for production variant AllTraffic did not pass the ping health check within 0s."
    )
    assert not server.alive() and not server.stopping  # stopped, yet not "asked to stop"


def test_stop_is_safe_twice_and_a_stopped_server_is_not_watched_as_failed(tmp_path: Path) -> None:
    server = _server(tmp_path, "import time; time.sleep(60)")
    exited = threading.Event()
    watch(server, exited.set)
    server.stop()
    server.stop()
    assert not server.alive() and server.stopping
    assert not exited.wait(0.5) and server.failure is None


def test_an_exit_nobody_asked_for_is_reported(tmp_path: Path) -> None:
    server = _server(tmp_path, "raise SystemExit(7)")
    exited = threading.Event()
    watch(server, exited.set)
    assert exited.wait(30)
    assert server.failure == exit_reason(server, 7)
