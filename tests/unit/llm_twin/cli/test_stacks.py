"""The stack commands through CliRunner: what Ctrl-C says depends on what it stopped.

KeyboardInterrupt is raised where a person's Ctrl-C would land (terraform running, the
cost estimate being fetched); the real SIGINT through a terraform apply is in
tests/system/test_lifecycle.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from llm_twin.cli.context import READ_ONLY_INTERRUPTED, TERRAFORM_INTERRUPTED
from llm_twin.cli.main import main
from llm_twin.control.deploy.deployment import Deployment
from tests.support.targets import AWS


def _ctrl_c(*_args: Any, **_kwargs: Any) -> Any:
    raise KeyboardInterrupt


def _cli(tmp_path: Path, *args: str, **env: str):
    return CliRunner().invoke(
        main,
        ["--env-file", str(tmp_path / "none.env"), *args],
        env={"LLM_TWIN_STATE_DIR": str(tmp_path / "state"), "LOCAL_AWS_PORT": "1", **env},
    )


@pytest.mark.parametrize(
    ("command", "method"), [("plan", "plan"), ("destroy", "destroy"), ("bootstrap", "bootstrap")]
)
def test_ctrl_c_while_terraform_runs_says_its_state_was_saved(
    command: str, method: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Deployment, method, _ctrl_c)
    result = _cli(tmp_path, command)
    assert (result.exit_code, result.stderr) == (130, TERRAFORM_INTERRUPTED + "\n")


def test_ctrl_c_at_apply_cost_estimate_changed_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Deployment, "cost_estimate", _ctrl_c)
    monkeypatch.setattr(Deployment, "apply", lambda *a, **k: pytest.fail("apply ran after Ctrl-C"))
    result = _cli(tmp_path, "apply", "--skip-preflight", "--yes", **AWS)
    assert (result.exit_code, result.stderr) == (130, READ_ONLY_INTERRUPTED + "\n")


def test_ctrl_c_once_apply_runs_terraform_says_its_state_was_saved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Deployment, "apply", _ctrl_c)
    result = _cli(tmp_path, "apply", "--skip-preflight", "--yes", **AWS)
    assert result.exit_code == 130, result.output
    assert "cost estimate for llm-twin-endpoint" in result.stdout  # the gate passed first
    assert result.stderr == TERRAFORM_INTERRUPTED + "\n"


def test_ctrl_c_in_a_read_only_command_changed_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Deployment, "status", _ctrl_c)
    result = _cli(tmp_path, "status")
    assert (result.exit_code, result.stderr) == (130, READ_ONLY_INTERRUPTED + "\n")
