"""The root group: the one place the CLI catches llm-twin's errors and Ctrl-C.

`LlmTwinError` prints `Name: message` on stderr and exits with the error's `exit_code`
(2 when nothing ran, 1 otherwise); Ctrl-C prints the line the running command gave
(`context.when_interrupted`) and exits 130. Before either line, the cleanups the command
registered run (`infer` ends its partial line and, with --json, emits the error event).
Click's own usage errors pass through untouched (exit 2, with the usage).
"""

from __future__ import annotations

from typing import Any

import click

from llm_twin.cli.context import Invocation
from llm_twin.errors import LlmTwinError

INTERRUPTED_EXIT = 130
"""128 + SIGINT, what a shell reports for a program Ctrl-C stopped."""


class RootGroup(click.Group):
    """`llm-twin`: runs a command, then turns our error or a Ctrl-C into its line and exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LlmTwinError as exc:
            _clean_up(ctx, exc)
            click.echo(f"{type(exc).__name__}: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            _clean_up(ctx, None)
            click.echo(ctx.ensure_object(Invocation).interrupted, err=True)
            ctx.exit(INTERRUPTED_EXIT)


def _clean_up(ctx: click.Context, error: LlmTwinError | None) -> None:
    for cleanup in ctx.ensure_object(Invocation).cleanups:
        cleanup(error)
