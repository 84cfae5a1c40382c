"""Start, stop and inspect the embedded local AWS as a background process.

The pid file and log live in the project's state directory. Moto keeps everything
in memory, so a freshly started emulator is empty: the caller is told, and the local
target's Terraform state from the previous instance is cleared with it.

A pid file can outlive its emulator, and the pid in it can be reused by any program:
a pid is signalled, or blamed for the port, only when its command line is the local
AWS on this port. Model servers left by an emulator that died are reaped on the way
up and down (see `reaper`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from llm_twin.errors import EmulatorError, SettingsError
from llm_twin_local.aws.authz import ENFORCE_ENV
from llm_twin_local.aws.runtime.reaper import Registry, is_local_aws

START_TIMEOUT = 30.0


@dataclass(frozen=True)
class EmulatorStatus:
    """Whether the emulator runs, and where."""

    running: bool
    pid: int | None
    port: int
    log_path: Path
    started_now: bool = False
    """True when this call started it (so it holds no resources yet)."""
    reaped: tuple[int, ...] = ()
    """Model servers left by an earlier emulator that this call stopped."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class LocalAws:
    """The emulator for one state directory and port."""

    def __init__(self, state_dir: Path, port: int, *, enforce_iam: bool = False) -> None:
        self.dir = state_dir / "emulator"
        self.port = port
        # Only a start applies it: an emulator already running keeps the mode it started with.
        self.enforce_iam = enforce_iam
        self.pid_path = self.dir / "emulator.pid"
        self.log_path = self.dir / "emulator.log"

    def status(self) -> EmulatorStatus:
        pid = self._pid()
        running = pid is not None and _alive(pid) and self._answers()
        return EmulatorStatus(
            running=running, pid=pid if running else None, port=self.port, log_path=self.log_path
        )

    def up(self) -> EmulatorStatus:
        """Start it unless it already runs; EmulatorError names the port when it is taken."""
        current = self.status()
        if current.running:
            return current
        pid = self._our_pid()
        if _port_in_use(self.port):
            if pid is not None:
                raise EmulatorError(
                    f"the local AWS (pid {pid}) holds port {self.port} but did not answer; "
                    f"see {self.log_path}, or restart it with `llm-twin local down`"
                )
            raise SettingsError(
                f"port {self.port} (LOCAL_AWS_PORT) is held by another process, not the local AWS: "
                "stop that process, or set LOCAL_AWS_PORT to a free port"
            )
        reaped = tuple(self.registry.reap())
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "llm_twin_local.aws.server",
                    "--port",
                    str(self.port),
                    "--state-dir",
                    str(self.dir.parent.resolve()),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env={**os.environ, ENFORCE_ENV: "true" if self.enforce_iam else "false"},
            )
        self.pid_path.write_text(str(process.pid))
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise EmulatorError(
                    f"the local AWS exited at start (code {process.returncode}); see {self.log_path}"
                )
            if self._answers():
                return EmulatorStatus(
                    True, process.pid, self.port, self.log_path, started_now=True, reaped=reaped
                )
            time.sleep(0.2)
        process.terminate()
        raise EmulatorError(f"the local AWS did not answer within {START_TIMEOUT:.0f}s; see {self.log_path}")

    def down(self) -> bool:
        """Stop it, and any model server an earlier one left; False when it was not running."""
        pid = self._our_pid()
        stopped = False
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
            stopped = True
        with contextlib.suppress(FileNotFoundError):
            self.pid_path.unlink()
        self.registry.reap()
        return stopped

    @property
    def registry(self) -> Registry:
        return Registry.for_state_dir(self.dir.parent)

    def _pid(self) -> int | None:
        try:
            return int(self.pid_path.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def _our_pid(self) -> int | None:
        """The recorded pid while it is the local AWS on this port; a stale pid file is removed."""
        pid = self._pid()
        if pid is not None and _alive(pid) and is_local_aws(pid, self.port):
            return pid
        self.pid_path.unlink(missing_ok=True)
        return None

    def _answers(self) -> bool:
        """moto's dashboard answers only when the emulator, not some other server, holds the port.

        It is a static page, so its cost does not grow with what the emulator holds
        (moto's data.json does, and under load it outlasted any sensible timeout).
        """
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/moto-api/", timeout=5) as reply:
                return reply.status == 200 and b"moto" in reply.read().lower()
        except (urllib.error.URLError, OSError):
            return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still "exists"; reap it if it is ours.
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    return True


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def free_port() -> int:
    """A port the OS says is free now (for tests and benchmarks)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]  # untyped: an address's shape depends on its family
    return port
