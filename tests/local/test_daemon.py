import os
import socket
from pathlib import Path

import pytest

from llm_twin.errors import EmulatorError
from llm_twin.local.daemon import LocalAws, free_port
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


def test_a_port_held_by_another_program_is_named(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(EmulatorError, match=f"port {port} is taken by another program.*LOCAL_AWS_PORT"):
            LocalAws(tmp_path, port).up()


def test_a_recorded_emulator_that_does_not_answer_is_named(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        emulator = LocalAws(tmp_path, holder.getsockname()[1])
        emulator.dir.mkdir(parents=True)
        emulator.pid_path.write_text(str(os.getpid()))  # alive, holds the port, is not moto
        with pytest.raises(
            EmulatorError, match=r"the local AWS \(pid \d+\) holds port \d+ but did not answer"
        ):
            emulator.up()
