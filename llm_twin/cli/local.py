"""`llm-twin local up|down|status`: the embedded local AWS, reached through `control.local_target`
(the CLI never imports the [local] extra itself)."""

from __future__ import annotations

import sys

import click

from llm_twin.cli import context
from llm_twin.cli.context import READ_ONLY_INTERRUPTED, interrupts
from llm_twin.control import local_target

NOT_RUNNING_EXIT = 3
"""`local status` when nothing runs: scripts tell it apart from an error (1) and a bad setting (2)."""


@click.group()
def local() -> None:
    """The embedded local AWS on loopback (the default target)."""


@local.command("up")
@click.pass_context
@interrupts("Interrupted: the local AWS may be half started; `llm-twin local status` says whether it runs.")
def local_up(ctx: click.Context) -> None:
    """Start it in the background (no-op when it runs)."""
    state = local_target.ensure_running(context.settings(ctx))
    verb = "started" if state.started_now else "already running"
    click.echo(f"local AWS {verb} on {state.url} (pid {state.pid}, log {state.log_path})")


@local.command("down")
@click.pass_context
@interrupts("Interrupted: the local AWS may still be stopping; `llm-twin local status` says whether it runs.")
def local_down(ctx: click.Context) -> None:
    """Stop it; everything it held is forgotten."""
    click.echo(
        "local AWS stopped" if local_target.stop(context.settings(ctx)) else "local AWS was not running"
    )


@local.command("status")
@click.pass_context
@interrupts(READ_ONLY_INTERRUPTED)
def local_status(ctx: click.Context) -> None:
    """Say whether it runs, and where."""
    state = local_target.status(context.settings(ctx))
    if state.running:
        click.echo(f"running on {state.url} (pid {state.pid}, log {state.log_path})")
    else:
        click.echo("not running")
        sys.exit(NOT_RUNNING_EXIT)
