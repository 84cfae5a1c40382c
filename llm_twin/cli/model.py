"""`llm-twin model push|list|rm`: checkpoints in the artifact bucket, ready for `model_data_source`.

`push --deploy` records the pushed prefix in the env file (MODEL_DATA_S3_URI, and
HF_MODEL_ID=/opt/ml/model where SageMaker mounts it), keeping every other line, so a
later `make apply` serves the same model; then it runs the same apply as `llm-twin apply`.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click

from llm_twin.config import Settings, load_settings
from llm_twin.control.deploy.deployment import Deployment
from llm_twin.control.env_file import set_env_values
from llm_twin.control.images import require_image
from llm_twin.control.models import store as model_store
from llm_twin.control.models.convert import convert_checkpoint
from llm_twin.errors import CheckpointError, SettingsError
from llm_twin.protocol.checkpoints import Checkpoint, inspect_checkpoint, model_name, model_version

CONTAINER_MODEL_DIR = "/opt/ml/model"
"""Where SageMaker puts `model_data_source` files in the container; TGI loads HF_MODEL_ID from it."""


def _handle_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """cli.handle_errors, looked up per call: cli.py imports this module while it is being built."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from llm_twin.cli.main import handle_errors

        return handle_errors(command)(*args, **kwargs)

    return wrapper


def _say(message: str) -> None:
    click.echo(f"» {message}")


def _settings(ctx: click.Context) -> Settings:
    settings = load_settings(os.environ, ctx.obj["env_file"])
    require_image(settings)
    return settings


def _deployment(settings: Settings) -> Deployment:
    from llm_twin.cli.main import _print_event

    return Deployment(settings, on_event=_print_event, on_message=_say)


class _ByteBar:
    """A progress bar in bytes, started once the push knows how much it will upload."""

    def __init__(self) -> None:
        self.bar = None

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


def _deploy_conflicts(uri: str) -> None:
    """The environment wins over the env file: a value there would silently undo --deploy."""
    for key, wanted in (("MODEL_DATA_S3_URI", uri), ("HF_MODEL_ID", CONTAINER_MODEL_DIR)):
        current = os.environ.get(key)
        if current is not None and current != wanted:
            raise SettingsError(
                f"{key}={current!r} is set in the environment, which overrides the env file that --deploy "
                f"writes ({key}={wanted}): unset it, then re-run"
            )


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
@_handle_errors
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
    settings = _settings(ctx)
    name = model_name(name or path.resolve().name)
    if version is not None:
        model_version(version)
    checkpoint = inspect_checkpoint(path)
    with tempfile.TemporaryDirectory(prefix="llm-twin-convert-") as scratch:
        if checkpoint.weight_format == "pickle":
            if not convert:
                raise CheckpointError(
                    f"{path} holds pickle weights ({checkpoint.weights[0]}), which can run code when loaded "
                    "and which TGI converts at every boot: pass --convert to rewrite them as safetensors "
                    "(every tensor is checked equal) before the upload"
                )
            result = convert_checkpoint(path, Path(scratch) / path.resolve().name)
            _say(
                f"converted {len(result.written)} weight files to safetensors ({result.tensors} tensors equal)"
            )
            checkpoint = inspect_checkpoint(result.target)
        _push(ctx, settings, checkpoint, name, version, force=force, deploy=deploy, as_admin=as_admin)


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
    store = model_store.store_for(_deployment(settings), as_admin=as_admin)
    if deploy:
        _deploy_conflicts(store.uri(f"models/{name}/{version}/"))
    bar = _ByteBar()
    try:
        result = store.push(checkpoint, name, version, force=force, on_bytes=bar.advance, on_plan=bar.start)
    finally:
        bar.finish()
    if result.removed:
        _say(f"removed {len(result.removed)} objects of the model that was there (--force)")
    copied = f"{len(result.copied)} copied from an earlier version, " if result.copied else ""
    _say(
        f"pushed {result.uri}: {len(result.uploaded)} files uploaded ({result.bytes_uploaded / 1e6:.1f} MB), "
        f"{copied}{len(result.skipped)} unchanged; every file verified (size and sha256)"
    )
    if not deploy:
        click.echo(result.uri)
        return
    env_file: Path = ctx.obj["env_file"]
    set_env_values(env_file, {"MODEL_DATA_S3_URI": result.uri, "HF_MODEL_ID": CONTAINER_MODEL_DIR})
    _say(f"wrote MODEL_DATA_S3_URI={result.uri} and HF_MODEL_ID={CONTAINER_MODEL_DIR} to {env_file}")
    applied = _deployment(_settings(ctx)).apply(as_admin=as_admin)
    if applied.endpoint is not None:
        _say(f"endpoint {applied.endpoint.name} is {applied.endpoint.status}, serving {result.uri}")


@model.command("list")
@click.option("--as-admin", is_flag=True, help="Use the admin credentials, not the deployer's.")
@click.pass_context
@_handle_errors
def list_models(ctx: click.Context, as_admin: bool) -> None:
    """The model versions in the bucket; `incomplete` marks an interrupted push."""
    settings = _settings(ctx)
    models = model_store.store_for(_deployment(settings), as_admin=as_admin).list_models()
    if not models:
        _say("no models in the bucket yet: `llm-twin model push PATH`")
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
@_handle_errors
def remove(ctx: click.Context, name: str, version: str | None, force: bool, as_admin: bool) -> None:
    """Delete model NAME (or one --version) from the bucket; the manifest goes first."""
    settings = _settings(ctx)
    store = model_store.store_for(_deployment(settings), as_admin=as_admin)
    keep = None if force else settings.model.data_s3_uri or None
    for uri in store.remove(model_name(name), model_version(version) if version else None, keep_uri=keep):
        _say(f"removed {uri}")
