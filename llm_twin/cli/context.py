"""What every command shares: the run's state, the settings, the deployment, and how progress prints.

Below the command modules (they import it; it imports none of them), so no command
reaches back into `main`. The root handler (`llm_twin.cli.root`) reads the `Invocation`
a command filled in: the line Ctrl-C prints, and what to tidy before an error's line.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, ParamSpec, TypeVar

import click

from llm_twin.config import Settings, load_settings
from llm_twin.config.credentials import Credentials
from llm_twin.control import local_target
from llm_twin.control.deploy.deployment import Deployment
from llm_twin.control.identity import inference_credentials
from llm_twin.control.images import require_image
from llm_twin.control.tf.display import render
from llm_twin.control.tf.messages import ApplyComplete, ApplyErrored, ChangeSummary, Diagnostic, ProgressEvent
from llm_twin.control.tf.setup import check_terraform_setup
from llm_twin.errors import EmulatorError, LlmTwinError

if TYPE_CHECKING:
    from llm_twin.control.local_target import ServingModel

__all__ = [
    "INTERRUPTED",
    "READ_ONLY_INTERRUPTED",
    "TERRAFORM_INTERRUPTED",
    "Invocation",
    "deployment",
    "inference_identity",
    "interrupts",
    "invocation",
    "notice",
    "on_error",
    "ModelLine",
    "print_event",
    "say",
    "settings",
    "when_interrupted",
]

INTERRUPTED = "Interrupted."
"""Ctrl-C in a command that did not say what it was doing."""
READ_ONLY_INTERRUPTED = "Interrupted: nothing was changed."
"""Ctrl-C in a command that only reads."""
TERRAFORM_INTERRUPTED = "Interrupted: terraform was stopped gracefully and its state saved."
"""Ctrl-C while terraform runs: the runner forwards SIGINT and waits for terraform to save its state."""

Cleanup = Callable[[LlmTwinError | None], None]
"""Tidies a command's output before the root handler's line: the error, or None for Ctrl-C."""

P = ParamSpec("P")
R = TypeVar("R")

# One line per resource as it is created or destroyed, plus summaries and problems.
SHOWN_EVENTS = (ApplyComplete, ApplyErrored, ChangeSummary, Diagnostic)


@dataclass
class Invocation:
    """One run of `llm-twin` (the root context's `obj`): what the commands tell the root handler."""

    env_file: Path = Path(".env")
    """The settings file (`--env-file`); the environment overrides it."""
    interrupted: str = INTERRUPTED
    """The line Ctrl-C prints (exit 130): the running command says what it stopped."""
    cleanups: list[Cleanup] = field(default_factory=list)
    """Run, in order, before the root handler prints an error's line or the interrupted line."""


def invocation() -> Invocation:
    """The current run's `Invocation` (a default one for a command invoked without the group)."""
    return click.get_current_context().ensure_object(Invocation)


def when_interrupted(message: str) -> None:
    """From here on, Ctrl-C prints `message`: a command that goes through phases says which one stopped."""
    invocation().interrupted = message


def interrupts(message: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a command: Ctrl-C anywhere in it prints `message` (unless it names a later phase)."""

    def decorate(command: Callable[P, R]) -> Callable[P, R]:
        @wraps(command)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            when_interrupted(message)
            return command(*args, **kwargs)

        return wrapper

    return decorate


def on_error(cleanup: Cleanup) -> None:
    """Run `cleanup` before the root handler's line, if the command stops on an error or Ctrl-C."""
    invocation().cleanups.append(cleanup)


def settings(ctx: click.Context) -> Settings:
    """The validated settings, the image included: a bad value stops here, before anything runs."""
    loaded = load_settings(os.environ, ctx.ensure_object(Invocation).env_file)
    require_image(loaded)
    return loaded


def deployment(settings: Settings, *, terraform: bool = True) -> Deployment:
    """The deployment `settings` describe, printing its progress; with `terraform`, its tooling
    checked first (TF_CLI, the provider mirror), so a missing binary is named before the emulator starts."""
    if terraform:
        check_terraform_setup(settings)
    return Deployment(settings, on_event=print_event, on_message=say, on_model=ModelLine().show)


def inference_identity(settings: Settings) -> Credentials:
    """Who `infer` and `serve` invoke the endpoint as. They never start the emulator: a fresh one
    holds no endpoint, so on the local target one that is not running is named instead."""
    if settings.target == "local" and not local_target.status(settings).running:
        raise EmulatorError(
            f"the local AWS is not running on port {settings.local.port}: run `make apply` first"
        )
    return inference_credentials(settings)


def say(message: str) -> None:
    click.echo(f"» {message}")


def notice(message: str | None) -> None:
    """A one-line remark beside a command's output (on stderr, so piped output stays clean)."""
    if message:
        click.echo(f"» {message}", err=True)


class ModelLine:
    """A local endpoint's model as `apply` waits for it: the download in bytes (one line rewritten
    in place on a terminal, else a line per 10 %), then the load."""

    def __init__(self) -> None:
        self._tty = sys.stdout.isatty()
        self._tenths = -1
        self._open = False
        self._phase = ""

    def show(self, model: ServingModel) -> None:
        phase, self._phase = self._phase, model.phase
        if model.phase == "downloading" and model.bytes_total:
            tenths = model.bytes_done * 10 // model.bytes_total
            line = (
                f"» downloading {model.model_id}@{(model.revision or 'main')[:12]}: "
                f"{_mb(model.bytes_done)} of {_mb(model.bytes_total)} MB ({model.bytes_done * 100 // model.bytes_total} %)"
            )
            if self._tty:
                click.echo(f"\r{line}", nl=False)
                self._open = True
            elif tenths != self._tenths:
                click.echo(line)
            self._tenths = tenths
        elif model.phase != phase and model.phase == "loading":
            self._end_line()
            say(f"loading {model.model_id} into the model server")
        elif model.phase in ("ready", "failed"):
            self._end_line()

    def _end_line(self) -> None:
        if self._open:
            click.echo()
            self._open = False


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f}"


def print_event(event: ProgressEvent) -> None:
    """Terraform's progress as it runs: problems on stderr, the rest on stdout, noise left out."""
    if isinstance(event, ChangeSummary) and event.operation == "plan" and event.total == 0:
        return
    if isinstance(event, ApplyComplete) and event.action == "read":
        return
    if isinstance(event, SHOWN_EVENTS):
        click.echo(render(event), err=isinstance(event, Diagnostic))
