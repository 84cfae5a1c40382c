import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from llm_twin.cli.main import main
from llm_twin.errors import EmulatorError, SettingsError
from llm_twin_local.aws.daemon import LocalAws, free_port
from tests.conftest import client


def test_up_status_down(tmp_path: Path) -> None:
    emulator = LocalAws(tmp_path, free_port())
    try:
        started = emulator.up()
        assert started.running and started.started_now
        assert emulator.pid_path.read_text() == str(started.pid)
        again = emulator.up()
        assert again.running and not again.started_now and again.pid == started.pid
        assert client(emulator.port, "sts").get_caller_identity()["Account"] == "123456789012"
    finally:
        assert emulator.down()
    assert not emulator.status().running
    assert not emulator.pid_path.exists()
    assert not emulator.down()


@pytest.fixture
def held_port() -> Iterator[int]:
    """A free port, then held by a plain socket server that is not the local AWS."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


@pytest.fixture
def bystander() -> Iterator[int]:
    """The pid of a live program that is not the local AWS."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        yield process.pid
    finally:
        process.kill()
        process.wait()


def test_a_port_held_by_another_program_is_named(tmp_path: Path, held_port: int) -> None:
    with pytest.raises(
        SettingsError,
        match=rf"port {held_port} \(LOCAL_AWS_PORT\) is held by another process, not the local AWS",
    ):
        LocalAws(tmp_path, held_port).up()


@pytest.mark.parametrize("recorded", ["a live pid that is not ours", "a pid that is gone"])
def test_a_stale_pid_file_is_not_blamed_for_a_port_held_by_another_process(
    tmp_path: Path, held_port: int, bystander: int, recorded: str
) -> None:
    """The pid file names a process that is not the local AWS: the port's holder is another program."""
    emulator = LocalAws(tmp_path / "state", held_port)
    emulator.dir.mkdir(parents=True)
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    emulator.pid_path.write_text(str(bystander) if recorded.startswith("a live") else gone.stdout.strip())
    env = {"LLM_TWIN_STATE_DIR": str(tmp_path / "state"), "LOCAL_AWS_PORT": str(held_port)}

    result = CliRunner().invoke(main, ["--env-file", str(tmp_path / "none.env"), "local", "up"], env=env)

    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == (
        f"SettingsError: port {held_port} (LOCAL_AWS_PORT) is held by another process, not the local AWS: "
        "stop that process, or set LOCAL_AWS_PORT to a free port"
    )
    assert not emulator.pid_path.exists()
    os.kill(bystander, 0)  # still running: nothing was signalled


def test_local_down_never_signals_a_pid_that_is_not_the_local_aws(tmp_path: Path, bystander: int) -> None:
    emulator = LocalAws(tmp_path, free_port())
    emulator.dir.mkdir(parents=True)
    emulator.pid_path.write_text(str(bystander))
    assert not emulator.down()
    os.kill(bystander, 0)
    assert not emulator.pid_path.exists()


def test_a_recorded_emulator_that_does_not_answer_is_named(tmp_path: Path) -> None:
    emulator = LocalAws(tmp_path, free_port())
    pid = emulator.up().pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)  # holds its port, answers nothing
    try:
        with pytest.raises(
            EmulatorError, match=rf"the local AWS \(pid {pid}\) holds port {emulator.port} but did not answer"
        ):
            emulator.up()
    finally:
        os.kill(pid, signal.SIGCONT)
        emulator.down()


_WITHOUT_THE_LOCAL_EXTRA = """
import sys


class RefuseTheLocalExtra:
    # As if `pip install llm-twin` left out [local]: these cannot be imported at all.
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in ("moto", "werkzeug", "torch", "transformers", "safetensors"):
            raise ImportError(f"No module named {name!r} (the [local] extra is not installed)")
        return None


sys.meta_path.insert(0, RefuseTheLocalExtra())
from llm_twin_local.aws.daemon import LocalAws, free_port

print(LocalAws.__name__, free_port() > 0)
"""


def test_the_daemon_imports_without_the_local_extra() -> None:
    """llm_twin.control starts the emulator through `daemon`: with TARGET=aws and no [local]
    installed, importing it must not reach moto, werkzeug or torch (only the server process does)."""
    result = subprocess.run(
        [sys.executable, "-c", _WITHOUT_THE_LOCAL_EXTRA], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "LocalAws True"
