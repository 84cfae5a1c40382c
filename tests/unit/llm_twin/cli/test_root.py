"""The root handler: the one place our errors and Ctrl-C become a line and an exit code."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import llm_twin.cli
from llm_twin.cli import context
from llm_twin.cli.context import INTERRUPTED, Invocation
from llm_twin.cli.main import COMMANDS, main
from llm_twin.cli.root import INTERRUPTED_EXIT, RootGroup
from llm_twin.errors import BudgetExceededError, LlmTwinError, ModelStoreError, SettingsError

heard: list[str] = []


@click.group(cls=RootGroup)
@click.pass_context
def cli(ctx: click.Context) -> None:
    ctx.obj = Invocation()


@cli.command()
@click.argument("error")
def fail(error: str) -> None:
    context.on_error(lambda exc: heard.append(f"cleanup saw {type(exc).__name__}"))
    raise {"settings": SettingsError, "store": ModelStoreError, "budget": BudgetExceededError}[error](
        "it broke"
    )


@cli.command()
@context.interrupts("Interrupted: the first phase stopped.")
def first_phase() -> None:
    context.on_error(lambda exc: heard.append(f"cleanup saw {exc}"))
    raise KeyboardInterrupt


@cli.command()
@context.interrupts("Interrupted: the first phase stopped.")
def second_phase() -> None:
    context.when_interrupted("Interrupted: the second phase stopped.")
    raise KeyboardInterrupt


@cli.command()
def undeclared() -> None:
    raise KeyboardInterrupt


@cli.command()
def usage() -> None:
    raise click.BadParameter("not like that")


@pytest.fixture(autouse=True)
def _forget() -> None:
    heard.clear()


@pytest.mark.parametrize(
    ("error", "code"), [("settings", 2), ("store", 1), ("budget", 2)], ids=["exit 2", "exit 1", "subclass"]
)
def test_an_error_is_its_name_and_message_with_its_exit_code(error: str, code: int) -> None:
    result = CliRunner().invoke(cli, ["fail", error])
    name = {"settings": "SettingsError", "store": "ModelStoreError", "budget": "BudgetExceededError"}[error]
    assert (result.exit_code, result.stderr, result.stdout) == (code, f"{name}: it broke\n", "")
    assert heard == [f"cleanup saw {name}"]


def test_ctrl_c_prints_the_commands_line_after_its_cleanups_and_exits_130() -> None:
    result = CliRunner().invoke(cli, ["first-phase"])
    assert (result.exit_code, result.stderr) == (INTERRUPTED_EXIT, "Interrupted: the first phase stopped.\n")
    assert INTERRUPTED_EXIT == 130
    assert heard == ["cleanup saw None"]


def test_a_later_phase_names_itself() -> None:
    result = CliRunner().invoke(cli, ["second-phase"])
    assert (result.exit_code, result.stderr) == (130, "Interrupted: the second phase stopped.\n")


def test_a_command_that_said_nothing_claims_nothing() -> None:
    result = CliRunner().invoke(cli, ["undeclared"])
    assert (result.exit_code, result.stderr) == (130, f"{INTERRUPTED}\n")


def test_clicks_usage_errors_pass_through() -> None:
    result = CliRunner().invoke(cli, ["usage"])
    assert result.exit_code == 2 and "Invalid value: not like that" in result.stderr


def test_the_cli_is_one_root_group_with_every_command() -> None:
    assert isinstance(main, RootGroup)
    assert set(main.commands.values()) == set(COMMANDS)


def test_errors_are_caught_nowhere_else_in_the_cli() -> None:
    """One handler: no command module names the root error to catch it."""
    package = Path(llm_twin.cli.__file__).parent
    catching = [
        path.name
        for path in package.glob("*.py")
        if path.name != "root.py" and f"except {LlmTwinError.__name__}" in path.read_text()
    ]
    assert catching == []
