"""Options several commands share, so each reads and checks the same way."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import click

from llm_twin.client.endpoint import DEFAULT_READ_TIMEOUT

F = TypeVar("F", bound=Callable[..., object])

as_admin_option = click.option(
    "--as-admin", is_flag=True, help="Run the main stack with the admin credentials (not the deployer's)."
)


def positive(ctx: click.Context, param: click.Parameter, value: float) -> float:
    if not value > 0:
        raise click.BadParameter("must be > 0")
    return value


def endpoint_options(command: F) -> F:
    """`--endpoint` and `--read-timeout`, the same for `infer` and `serve`."""
    command = click.option(
        "--read-timeout",
        type=float,
        default=DEFAULT_READ_TIMEOUT,
        show_default=True,
        callback=positive,
        help="Seconds without a byte from the endpoint before a stream is given up.",
    )(command)
    return click.option("--endpoint", default=None, help="Endpoint name; defaults to the configured one.")(
        command
    )
