"""The rollout record: a completed change is appended, a rolled-back one is appended and raised."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from llm_twin.control.aws import EndpointState
from llm_twin.control.deploy.rollouts import check_rollout, last_rollout
from llm_twin.errors import RolloutRolledBackError


def serving(config: str, reason: str | None = None) -> EndpointState:
    return EndpointState(
        name="e", status="InService", config_name=config, failure_reason=reason, instance_counts={}
    )


def test_no_change_records_nothing(tmp_path: Path) -> None:
    path = tmp_path / "rollouts.jsonl"
    check_rollout(path, None, "c2", serving("c2"))
    check_rollout(path, "c1", "c1", serving("c1"))
    assert not path.exists() and last_rollout(path) is None


def test_a_completed_change_is_recorded_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "main" / "rollouts.jsonl"
    check_rollout(path, "c1", "c2", serving("c2"))
    record = last_rollout(path)
    assert record is not None
    assert (record.previous_config, record.target_config, record.serving_config) == ("c1", "c2", "c2")
    assert record.outcome == "completed"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_rolled_back_change_is_recorded_then_raised(tmp_path: Path) -> None:
    path = tmp_path / "rollouts.jsonl"
    check_rollout(path, "c1", "c2", serving("c2"))
    with pytest.raises(RolloutRolledBackError, match="rolled back and it still serves c1: alarm fired"):
        check_rollout(path, "c2", "c3", serving("c1", "alarm fired"))
    record = last_rollout(path)
    assert record is not None and record.outcome == "rolled back" and record.failure_reason == "alarm fired"
    assert len(path.read_text().splitlines()) == 2
