"""`llm-twin model push|list|rm`: checkpoints in the artifact bucket, ready for `model_data_source`.

`push --deploy` records the pushed prefix in the env file, then runs the same apply as
`llm-twin apply`. The rules (what may be pushed, what --deploy writes) are
`llm_twin.control.models.publish`'s; this module shows the progress and the results.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import click

from llm_twin.cli import context
from llm_twin.cli.context import READ_ONLY_INTERRUPTED, TERRAFORM_INTERRUPTED, Invocation, interrupts, say
from llm_twin.config import Settings
from llm_twin.control.models import publish
from llm_twin.protocol.checkpoints import Checkpoint, model_name, model_version

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar


class _ByteBar:
    """A progress bar in bytes, started once the push knows how much it will upload."""

    def __init__(self) -> None:
        self.bar: ProgressBar[int] | None = None

    def start(self, total: int) -> None:
        if total:
            self.bar = click.progressbar(
                length=total, label=f"uploading {total / 1e6:.1f} MB", show_pos=True, file=sys.stderr
            )
            self.bar.__enter__()

    def advance(self, count: int) -> None:
        if self.bar is not None:
            self.bar.update(count)

    def finish(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


@click.group()
def model() -> None:
    """Checkpoints in the artifact bucket (s3://<bucket>/models/<name>/<version>/)."""


@model.command("push")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--name", help="Model name; defaults to the directory's name.")
@click.option("--version", "version", help="Version; defaults to a short hash of the files' checksums.")
@click.option("--convert", is_flag=True, help="Rewrite pickle (.bin) weights as safetensors first.")
@click.option("--force", is_flag=True, help="Replace a different model already at that prefix.")
@click.option("--deploy", is_flag=True, help="Serve the pushed prefix: write it to the env file and apply.")
@click.option("--as-admin", is_flag=True, help="Use the admin credentials, not the deployer's.")
@click.pass_context
@interrupts("Interrupted: nothing was uploaded.")
def push(
    ctx: click.Context,
    path: Path,
    name: str | None,
    version: str | None,
    convert: bool,
    force: bool,
    deploy: bool,
    as_admin: bool,
) -> None:
    """Upload the checkpoint at PATH (multipart, parallel, verified; only changed files)."""
    settings = context.settings(ctx)
    name = model_name(name or path.resolve().name)
    if version is not None:
        model_version(version)
    with tempfile.TemporaryDirectory(prefix="llm-twin-convert-") as scratch:
        prepared = publish.pushable(path, Path(scratch), convert=convert)
        if prepared.conversion is not None:
            converted = prepared.conversion
            say(
                f"converted {len(converted.written)} weight files to safetensors "
                f"({converted.tensors} tensors equal)"
            )
        _push(
            ctx, settings, prepared.checkpoint, name, version, force=force, deploy=deploy, as_admin=as_admin
        )


def _push(
    ctx: click.Context,
    settings: Settings,
    checkpoint: Checkpoint,
    name: str,
    version: str | None,
    *,
    force: bool,
    deploy: bool,
    as_admin: bool,
) -> None:
    version = version or checkpoint.default_version
    store = context.deployment(settings, terraform=False).model_store(as_admin=as_admin)
    target = store.uri(f"models/{name}/{version}/")
    if deploy:
        publish.check_deploy_environment(os.environ, target)
    # The manifest is written last, so a stopped upload is never taken for a model.
    context.when_interrupted(
        f"Interrupted: the upload stopped; {target} stays incomplete (no manifest, never deployed) "
        "and the same `llm-twin model push` resumes it."
    )
    bar = _ByteBar()
    try:
        result = store.push(checkpoint, name, version, force=force, on_bytes=bar.advance, on_plan=bar.start)
    finally:
        bar.finish()
    if result.removed:
        say(f"removed {len(result.removed)} objects of the model that was there (--force)")
    copied = f"{len(result.copied)} copied from an earlier version, " if result.copied else ""
    say(
        f"pushed {result.uri}: {len(result.uploaded)} files uploaded ({result.bytes_uploaded / 1e6:.1f} MB), "
        f"{copied}{len(result.skipped)} unchanged; every file verified (size and sha256)"
    )
    if not deploy:
        click.echo(result.uri)
        return
    env_file = ctx.ensure_object(Invocation).env_file
    written = publish.record_deploy(env_file, result.uri)
    say(f"wrote {' and '.join(f'{key}={value}' for key, value in written.items())} to {env_file}")
    context.when_interrupted(TERRAFORM_INTERRUPTED)
    # Loaded again: the env file now names the pushed model.
    applied = context.deployment(context.settings(ctx), terraform=False).apply(as_admin=as_admin)
    if applied.endpoint is not None:
        say(f"endpoint {applied.endpoint.name} is {applied.endpoint.status}, serving {result.uri}")


@model.command("list")
@click.option("--as-admin", is_flag=True, help="Use the admin credentials, not the deployer's.")
@click.pass_context
@interrupts(READ_ONLY_INTERRUPTED)
def list_models(ctx: click.Context, as_admin: bool) -> None:
    """The model versions in the bucket; `incomplete` marks an interrupted push."""
    settings = context.settings(ctx)
    models = context.deployment(settings, terraform=False).model_store(as_admin=as_admin).list_models()
    if not models:
        say("no models in the bucket yet: `llm-twin model push PATH`")
        return
    click.echo(f"{'NAME':24} {'VERSION':16} {'FILES':>5} {'SIZE':>10}  {'STATUS':10} URI")
    for item in models:
        status = "complete" if item.complete else "incomplete"
        served = "  (deployed)" if item.uri == settings.model.data_s3_uri else ""
        click.echo(
            f"{item.name:24} {item.version:16} {item.objects:>5} {item.bytes / 1e6:>8.1f}MB  {status:10} "
            f"{item.uri}{served}"
        )


@model.command("rm")
@click.argument("name")
@click.option("--version", "version", help="Only this version; all versions of NAME when left out.")
@click.option("--force", is_flag=True, help="Remove it even when MODEL_DATA_S3_URI points at it.")
@click.option("--as-admin", is_flag=True, help="Use the admin credentials, not the deployer's.")
@click.pass_context
@interrupts(
    "Interrupted: the removal stopped; a version whose manifest is gone lists as incomplete: "
    "the same `llm-twin model rm` finishes it."
)
def remove(ctx: click.Context, name: str, version: str | None, force: bool, as_admin: bool) -> None:
    """Delete model NAME (or one --version) from the bucket; the manifest goes first."""
    settings = context.settings(ctx)
    store = context.deployment(settings, terraform=False).model_store(as_admin=as_admin)
    keep = None if force else settings.model.data_s3_uri or None
    for uri in store.remove(model_name(name), model_version(version) if version else None, keep_uri=keep):
        say(f"removed {uri}")
