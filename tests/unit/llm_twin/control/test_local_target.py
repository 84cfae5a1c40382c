"""The bridge to the embedded AWS: its status without starting it, and a clear error without the extra."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from llm_twin.config import build_settings
from llm_twin.control import local_target
from llm_twin.errors import EmulatorError
from llm_twin_local.aws.daemon import free_port


def settings(tmp_path: Path):
    return build_settings({"state.dir": tmp_path, "local.port": free_port()})


def test_status_of_an_emulator_that_never_started(tmp_path: Path) -> None:
    found = local_target.status(settings(tmp_path))
    assert not found.running and found.pid is None


def test_stop_without_an_emulator_says_so(tmp_path: Path) -> None:
    assert local_target.stop(settings(tmp_path)) is False


def test_a_missing_extra_is_named_with_the_install_command(tmp_path: Path, monkeypatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "moto" else real(name))
    with pytest.raises(
        EmulatorError, match=r"needs the \[local\] extra: pip install 'llm-twin\[local\]' \(moto"
    ):
        local_target.ensure_running(settings(tmp_path))
    assert not (tmp_path / "emulator").exists()  # nothing was started


def test_a_missing_package_is_the_same_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(__import__("sys").modules, "llm_twin_local.aws.daemon", None)
    with pytest.raises(EmulatorError, match=r"pip install 'llm-twin\[local\]'"):
        local_target.status(settings(tmp_path))


def test_started_and_stopped_through_the_bridge(tmp_path: Path) -> None:
    config = settings(tmp_path)
    try:
        started = local_target.ensure_running(config)
        assert started.running and started.started_now
        again = local_target.ensure_running(config)
        assert again.running and not again.started_now and again.pid == started.pid
    finally:
        assert local_target.stop(config) is True
    assert not local_target.status(config).running


def test_the_stand_in_of_either_backend_is_told_apart_from_a_model() -> None:
    from llm_twin_local.aws.runtime.sources import STAND_IN_IMAGE, VLLM_STAND_IN_IMAGE

    assert local_target.is_stand_in(STAND_IN_IMAGE) and local_target.is_stand_in(VLLM_STAND_IN_IMAGE)
    assert not local_target.is_stand_in("llm-twin-model-server-vllm:HuggingFaceTB/SmolLM2-135M-Instruct")
