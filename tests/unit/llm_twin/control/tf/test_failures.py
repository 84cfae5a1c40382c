"""A failed command as one TerraformError, classified by terraform's diagnostic, never by the message.

`plan_variable_rejected.jsonl` and `plan_variable_wrong_type.jsonl` were recorded from
Terraform 1.11.4 planning this project's root module against the embedded emulator, with
`endpoint.instance_count` set to 0 (a validation block fails) and to "many" (not a number).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from llm_twin.config import Settings
from llm_twin.control.deploy.stacks import StackPaths, Stacks
from llm_twin.control.tf.failures import VARIABLE_REJECTED, rejects_a_variable, terraform_error
from llm_twin.control.tf.process import Run
from llm_twin.errors import SettingsError, StateLockedError, TerraformError
from tests.support.terraform_streams import FIXTURES, events_of


def failed_plan(fixture: str) -> TerraformError:
    """The error the runner raises for a plan that printed `fixture` and exited 1."""
    run = Run(returncode=1, stdout=(FIXTURES / fixture).read_text(), stderr="", events=events_of(fixture))
    return terraform_error("terraform plan", run)


def test_a_failed_validation_block_is_a_rejected_variable() -> None:
    error = failed_plan("plan_variable_rejected.jsonl")
    assert error.summary == "Invalid value for variable"
    assert rejects_a_variable(error)
    assert str(error).startswith("terraform plan exited with code 1: Invalid value for variable: ")
    assert "endpoint.instance_count must be a whole number from 1 to 100" in str(error)


def test_a_value_of_the_wrong_type_is_a_rejected_variable() -> None:
    error = failed_plan("plan_variable_wrong_type.jsonl")
    assert error.summary == "Invalid value for input variable"
    assert rejects_a_variable(error)


@pytest.mark.parametrize("fixture", ["plan_invalid.jsonl", "apply_errored.jsonl"])
def test_other_errors_are_not_rejected_variables(fixture: str) -> None:
    error = failed_plan(fixture)
    assert error.summary is not None and error.summary not in VARIABLE_REJECTED
    assert not rejects_a_variable(error)


def test_the_message_text_alone_never_classifies() -> None:
    """An error whose text mentions the phrase, without such a diagnostic, is not a rejection."""
    stderr = "Error: Invalid value for variable\n\nsome wrapper printed this\n"
    error = terraform_error("terraform plan", Run(returncode=1, stdout="", stderr=stderr, events=[]))
    assert "Invalid value for variable" in str(error)
    assert error.summary is None and not rejects_a_variable(error)


def test_a_lock_error_keeps_its_summary_and_stderr() -> None:
    stderr = "Error: Error acquiring the state lock\n\nLock Info:\n  ID: 42\n  Who: someone@host\n"
    error = terraform_error("terraform apply", Run(returncode=1, stdout="", stderr=stderr, events=[]))
    assert isinstance(error, StateLockedError)
    assert "held by someone@host" in str(error) and "lock ID 42" in str(error)
    assert error.stderr == stderr


class _RejectingTerraform:
    """A runner whose plan fails as `error` says: the mapping is the stacks' business."""

    def __init__(self, error: TerraformError) -> None:
        self.error = error

    def plan(self, **_options: object) -> None:
        raise self.error


def test_stacks_turn_a_rejected_variable_into_a_usage_error(tmp_path: Path) -> None:
    stacks = Stacks(Settings())
    error = failed_plan("plan_variable_rejected.jsonl")
    with pytest.raises(SettingsError, match="^terraform rejected a setting: terraform plan exited") as caught:
        stacks._plan(_RejectingTerraform(error), StackPaths(tmp_path), {})  # type: ignore[arg-type]
    assert caught.value.exit_code == 2
    assert caught.value.__cause__ is error


def test_stacks_pass_other_terraform_errors_on(tmp_path: Path) -> None:
    error = failed_plan("plan_invalid.jsonl")
    with pytest.raises(TerraformError) as caught:
        Stacks(Settings())._plan(_RejectingTerraform(error), StackPaths(tmp_path), {})  # type: ignore[arg-type]
    assert caught.value is error
