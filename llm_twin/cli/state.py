"""`llm-twin bootstrap-state`: the S3 bucket that holds Terraform's remote state."""

from __future__ import annotations

import click


@click.command("bootstrap-state")
@click.pass_context
def bootstrap_state(ctx: click.Context) -> None:
    """Create the encrypted, versioned, private state bucket (idempotent) and the backend files.

    Then set STATE_BACKEND=s3: every stack keeps its state in the bucket, locked with
    Terraform's native S3 lock file.
    """
    from llm_twin.cli.main import (  # cli.py imports this module while it is built
        _deployment,
        _say,
        handle_errors,
    )

    @handle_errors
    def run() -> None:
        deployment = _deployment(ctx, terraform=False)  # boto3 only: the bucket exists before any stack
        result = deployment.bootstrap_state()
        if result.created:
            _say(f"created the state bucket {result.bucket} ({', '.join(result.changed)})")
        elif result.changed:
            _say(f"state bucket {result.bucket}: set {', '.join(result.changed)}")
        else:
            _say(f"state bucket {result.bucket} already encrypted, versioned and private: nothing changed")
        for paths in (deployment.bootstrap_paths, deployment.main_paths):
            _say(f"backend config: {paths.backend_file}")
        if deployment.settings.state.backend != "s3":
            _say("set STATE_BACKEND=s3 to keep the stacks' state in it")

    run()
