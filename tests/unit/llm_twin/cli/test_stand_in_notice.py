"""`status` and `infer` say in one stderr line that the stand-in serves, and why (the shared stack asks for it)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from llm_twin.cli.main import main
from llm_twin.control import local_target
from llm_twin.control.deploy.deployment import Deployment

pytestmark = pytest.mark.stack

NOTICE = (
    "» endpoint llm-twin-endpoint serves the stand-in, a tiny random model that prints word salad, "
    "not HuggingFaceTB/SmolLM2-135M-Instruct: LOCAL_MODEL=stand-in asks for it\n"
)


def _run(env: dict[str, str], tmp_path: Path, *args: str):
    return CliRunner().invoke(main, ["--env-file", str(tmp_path / "none.env"), *args], env=env)


def test_status_says_so_on_stderr(
    applied_stack: Deployment, shared_env: dict[str, str], tmp_path: Path
) -> None:
    result = _run(shared_env, tmp_path, "status")
    assert result.exit_code == 0, result.output
    assert result.stderr == NOTICE
    assert "serving:  llm-twin-model-server:stand-in-tiny" in result.stdout


def test_infer_says_so_on_stderr_and_prints_words(
    applied_stack: Deployment, shared_env: dict[str, str], tmp_path: Path
) -> None:
    result = _run(shared_env, tmp_path, "infer", "--max-new-tokens", "12", "--seed", "3", "Write a haiku")
    assert result.exit_code == 0, result.output
    assert result.stderr == NOTICE
    words = result.stdout.split()
    assert len(words) >= 6 and all(w.strip(".,;:!?").isascii() for w in words)
    assert "\ufffd" not in result.stdout


def test_no_notice_for_another_endpoint_or_on_aws(applied_stack: Deployment) -> None:
    settings = applied_stack.settings
    assert local_target.stand_in_notice(settings, "llm-twin-missing") is None
    assert local_target.stand_in_notice(settings, "llm-twin-endpoint", ("llm-twin-model-server:/m",)) is None
