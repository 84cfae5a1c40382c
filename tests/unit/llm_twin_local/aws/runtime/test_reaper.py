"""Model servers never outlive their local AWS (issue 12, defect 6).

A real emulator process, a real endpoint and its real model server; the emulator is
killed with SIGKILL, so none of its own clean-up runs. The model server must end by
itself, and one that cannot (stopped with SIGSTOP) is reaped by `llm-twin local up`
or `local down`, which never touch a process that is not one of ours.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from llm_twin.cli.main import main
from llm_twin_local.aws.daemon import LocalAws, free_port
from llm_twin_local.aws.runtime.reaper import (
    MODEL_SERVER_MODULE,
    Registry,
    _proc_command_line,
    _ps_command_line,
    command_line,
    is_local_aws,
    is_model_server,
)
from tests.conftest import client, stack_environ
from tests.support.runtime import alive, children, deploy, wait_status

pytestmark = pytest.mark.stack

EXIT_WITHIN = 5.0


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not alive(pid)


def _kill(pid: int) -> None:
    if alive(pid):
        os.kill(pid, signal.SIGKILL)


@pytest.fixture
def serving(tmp_path: Path, tiny_model: Path) -> Iterator[tuple[LocalAws, int, int]]:
    """An emulator process serving one endpoint: (emulator, its pid, the model server's pid)."""
    emulator = LocalAws(tmp_path / "state", free_port())
    emulator_pid = emulator.up().pid
    assert emulator_pid is not None
    server = None
    try:
        sagemaker = client(emulator.port, "sagemaker")
        deploy(sagemaker, "e", tiny_model)
        wait_status(sagemaker, "e", "InService", timeout=120)
        (server,) = children(emulator_pid)
        yield emulator, emulator_pid, server
    finally:
        if server is not None:  # a failing test leaves no 440 MB process behind
            _kill(server)
        emulator.down()


def test_a_killed_local_aws_takes_its_model_servers_with_it(serving: tuple[LocalAws, int, int]) -> None:
    emulator, emulator_pid, server = serving
    os.kill(emulator_pid, signal.SIGKILL)
    assert _wait_gone(emulator_pid, EXIT_WITHIN)
    assert _wait_gone(server, EXIT_WITHIN), f"model server {server} outlived the local AWS"


@pytest.mark.parametrize("command", ["down", "up"])
def test_local_up_and_down_reap_a_leftover_model_server_and_nothing_else(
    serving: tuple[LocalAws, int, int], command: str
) -> None:
    """A stopped server cannot read its lifeline; the registry under the state dir still finds it."""
    emulator, emulator_pid, server = serving
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        # A record whose pid is some other program's (as after pid reuse): never killed.
        Registry.for_state_dir(emulator.dir.parent).record(bystander.pid, port=1, owner=emulator_pid)
        os.kill(server, signal.SIGSTOP)
        os.kill(emulator_pid, signal.SIGKILL)
        assert _wait_gone(emulator_pid, EXIT_WITHIN)
        assert alive(server)

        env = stack_environ(emulator.dir.parent, emulator.port)
        result = CliRunner().invoke(main, ["--env-file", "/nonexistent/.env", "local", command], env=env)

        assert result.exit_code == 0, result.output
        assert _wait_gone(server, EXIT_WITHIN), f"`local {command}` left model server {server} running"
        assert bystander.poll() is None
        assert not list((emulator.dir / "model-servers").iterdir())
    finally:
        bystander.kill()
        bystander.wait()


def test_a_pid_is_ours_only_when_its_command_line_says_so_read_from_proc_or_from_ps() -> None:
    """Both readers (Linux's /proc; ps, which macOS has) see the same arguments."""
    script = "print('ready',flush=True);__import__('time').sleep(60)"  # no spaces: ps joins with them
    argv = [sys.executable, "-c", script, "-m", MODEL_SERVER_MODULE, "--port", "5"]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE)
    try:
        assert process.stdout is not None and process.stdout.readline() == b"ready\n"  # exec'd by now
        assert _proc_command_line(process.pid) == _ps_command_line(process.pid) == argv
        assert is_model_server(process.pid, 5)
        assert not is_model_server(process.pid, 6)  # a reused pid serves another port
        assert not is_local_aws(process.pid)
        assert not is_model_server(os.getpid(), 5)
    finally:
        process.kill()
        process.communicate()
    assert command_line(process.pid) is None
