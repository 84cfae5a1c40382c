"""Model servers never outlive the local AWS that started them.

Two lines of defence, because a model server holds about 440 MB and `kill -9` of the
emulator runs none of its clean-up:

1. A lifeline. Each server is started with the read end of a pipe whose only write end
   the emulator keeps. Whenever the emulator ends (exit, crash, SIGKILL), the kernel
   closes that write end, the server reads EOF, and it exits. This is a pipe rather than
   Linux's PR_SET_PDEATHSIG for two reasons: the death signal fires when the *thread*
   that forked the child ends, and the emulator starts servers from short-lived threads,
   so it would kill every server at once; and pipes behave the same on macOS. A parent-pid
   poll would be portable too, but it wakes up forever and notices only after its period.
2. A registry. Each server's pid is recorded under the state directory; `llm-twin local up`
   and `local down` stop any recorded server whose emulator is gone (one that is stopped,
   or from an older release, cannot read its lifeline). A pid is signalled only when its
   command line is a model server on the recorded port: a pid reused by another program
   is never touched.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

LIFELINE_FLAG = "--lifeline-fd"
"""The model server's option naming the pipe it reads; EOF there means the emulator is gone."""
REGISTRY_DIR = "model-servers"
MODEL_SERVER_MODULE = "llm_twin_local.model_server"
LOCAL_AWS_MODULE = "llm_twin_local.aws.server"
STOP_GRACE = 5.0


@dataclass(frozen=True)
class ServerRecord:
    """One running model server, as the emulator that started it recorded it."""

    pid: int
    port: int
    """The port it serves on: part of its command line, so a reused pid does not match."""
    owner: int
    """The emulator's pid: while that emulator lives, its servers are its own business."""


class Registry:
    """The model servers started from one state directory, one small JSON file each."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory

    @classmethod
    def for_state_dir(cls, state_dir: Path) -> Registry:
        return cls(Path(state_dir) / "emulator" / REGISTRY_DIR)

    def record(self, pid: int, *, port: int, owner: int) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        partial = self.dir / f".{pid}.json.partial"
        partial.write_text(json.dumps(asdict(ServerRecord(pid, port, owner))))
        partial.replace(self.dir / f"{pid}.json")

    def forget(self, pid: int) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.dir / f"{pid}.json").unlink()

    def records(self) -> list[ServerRecord]:
        """Every readable record; an unreadable one is dropped, as nothing can be verified from it."""
        found = []
        for path in sorted(self.dir.glob("*.json")) if self.dir.is_dir() else []:
            try:
                found.append(ServerRecord(**json.loads(path.read_text())))
            except (OSError, ValueError, TypeError):
                path.unlink(missing_ok=True)
        return found

    def reap(self) -> list[int]:
        """Stop every recorded model server whose emulator is gone; the pids stopped."""
        stopped = []
        for record in self.records():
            if is_local_aws(record.owner):
                continue
            if is_model_server(record.pid, record.port):
                terminate(record.pid)
                stopped.append(record.pid)
            self.forget(record.pid)
        return stopped


def spawn(
    command: Sequence[str],
    *,
    registry: Registry,
    port: int,
    stdout: IO[bytes],
    env: Mapping[str, str],
) -> subprocess.Popen[bytes]:
    """Start a model server on a lifeline, and record it until it exits."""
    read_end, write_end = os.pipe()  # both close-on-exec: no other child inherits the write end
    try:
        process = subprocess.Popen(
            [*command, LIFELINE_FLAG, str(read_end)],
            pass_fds=(read_end,),
            stdout=stdout,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(env),
        )
    except BaseException:
        os.close(write_end)
        raise
    finally:
        os.close(read_end)
    registry.record(process.pid, port=port, owner=os.getpid())

    def release() -> None:
        process.wait()
        os.close(write_end)
        registry.forget(process.pid)

    threading.Thread(target=release, name=f"lifeline-{process.pid}", daemon=True).start()
    return process


def command_line(pid: int) -> list[str] | None:
    """The arguments `pid` runs with; None when it is gone (or a zombie, which has none)."""
    if Path("/proc/self/cmdline").exists():
        return _proc_command_line(pid)
    return _ps_command_line(pid)


def _proc_command_line(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part] or None


def _ps_command_line(pid: int) -> list[str] | None:
    """Without /proc (macOS): ps prints the arguments joined by spaces, enough for the checks below."""
    result = subprocess.run(
        ["ps", "-ww", "-o", "command=", "-p", str(pid)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        return None
    return result.stdout.split() or None


def is_model_server(pid: int, port: int) -> bool:
    """True when `pid` runs our model server on `port`."""
    args = command_line(pid)
    return args is not None and _runs(args, MODEL_SERVER_MODULE) and _option(args, "--port") == str(port)


def is_local_aws(pid: int, port: int | None = None) -> bool:
    """True when `pid` runs our local AWS (on `port`, when given)."""
    args = command_line(pid)
    if args is None or not _runs(args, LOCAL_AWS_MODULE):
        return False
    return port is None or _option(args, "--port") == str(port)


def terminate(pid: int, grace: float = STOP_GRACE) -> None:
    """SIGTERM (with a SIGCONT, so a stopped process gets it), then SIGKILL after `grace`."""
    for signum in (signal.SIGTERM, signal.SIGCONT):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)
    deadline = time.monotonic() + grace
    while command_line(pid) is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    if command_line(pid) is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _runs(args: list[str], module: str) -> bool:
    return any(a == "-m" and b == module for a, b in zip(args, args[1:], strict=False))


def _option(args: list[str], flag: str) -> str | None:
    for name, value in zip(args, args[1:], strict=False):
        if name == flag:
            return value
    return None
