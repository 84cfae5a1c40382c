"""`llm-twin`: the Click group, assembled from one module per command group.

Every command loads and validates the settings first, so a bad value stops before
Terraform runs. Errors are caught once, by the group (`llm_twin.cli.root`), and printed
as `Name: message` with the error's exit code (2 for usage, 1 otherwise; 130 after Ctrl-C).
"""

from __future__ import annotations

from pathlib import Path

import click

from llm_twin.cli.context import Invocation
from llm_twin.cli.cost import cost_command
from llm_twin.cli.infer import infer
from llm_twin.cli.local import local
from llm_twin.cli.model import model
from llm_twin.cli.preflight import preflight_command
from llm_twin.cli.root import RootGroup
from llm_twin.cli.serve import serve
from llm_twin.cli.stacks import (
    apply,
    bootstrap,
    destroy,
    destroy_bootstrap,
    output,
    plan,
    render_vars,
    status,
    validate,
)
from llm_twin.cli.state import bootstrap_state


@click.group(cls=RootGroup)
@click.option(
    "--env-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path(".env"),
    show_default=True,
    help="Settings file; the environment overrides it.",
)
@click.version_option(package_name="llm-twin")
@click.pass_context
def main(ctx: click.Context, env_file: Path) -> None:
    """Deploy the LLM Twin to a SageMaker TGI endpoint and stream its tokens.

    TARGET=local (default) uses the embedded local AWS on loopback; TARGET=aws uses AWS.
    """
    ctx.obj = Invocation(env_file=env_file)


COMMANDS: tuple[click.Command, ...] = (
    render_vars,
    bootstrap,
    plan,
    apply,
    destroy,
    destroy_bootstrap,
    output,
    status,
    validate,
    local,
    infer,
    serve,
    cost_command,
    bootstrap_state,
    model,
    preflight_command,
)
for command in COMMANDS:
    main.add_command(command)
