"""`llm-twin bootstrap-state`: the S3 bucket that holds Terraform's remote state."""

from __future__ import annotations

import click

from llm_twin.cli import context
from llm_twin.cli.context import interrupts, say


@click.command("bootstrap-state")
@click.pass_context
@interrupts("Interrupted: the state bucket may be half set up; `llm-twin bootstrap-state` again finishes it.")
def bootstrap_state(ctx: click.Context) -> None:
    """Create the encrypted, versioned, private state bucket (idempotent) and the backend files.

    Then set STATE_BACKEND=s3: every stack keeps its state in the bucket, locked with
    Terraform's native S3 lock file.
    """
    # boto3 only: the bucket exists before any stack.
    deployment = context.deployment(context.settings(ctx), terraform=False)
    result = deployment.bootstrap_state()
    if result.created:
        say(f"created the state bucket {result.bucket} ({', '.join(result.changed)})")
    elif result.changed:
        say(f"state bucket {result.bucket}: set {', '.join(result.changed)}")
    else:
        say(f"state bucket {result.bucket} already encrypted, versioned and private: nothing changed")
    for paths in (deployment.bootstrap_paths, deployment.main_paths):
        say(f"backend config: {paths.backend_file}")
    if deployment.settings.state.backend != "s3":
        say("set STATE_BACKEND=s3 to keep the stacks' state in it")
