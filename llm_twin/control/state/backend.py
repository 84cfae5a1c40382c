"""Remote state: the S3 backend configuration per target and stack, and the staged root.

The root stacks declare `backend "local" {}`, and many targets (tests run dozens at once)
init from the same `terraform/` directory, so an override file dropped there would switch
every one of them. Instead, a target using the S3 backend gets its own staged copy of the
Terraform tree under its state directory (`<target>/<stack>/source/`, a few kB of text,
refreshed on every init so edits to `terraform/` are picked up), with a generated
`backend_override.tf` beside the stack's root module. Terraform merges `*_override.tf`
over the root's `terraform {}` block, so `backend "local"` becomes `backend "s3"` there
and only there. The backend's settings go in a rendered `backend.s3.tfbackend`, passed
as `init -backend-config=FILE`.

Locking is Terraform's native S3 lock file (`use_lockfile = true`, Terraform >= 1.10): a
`<key>.tflock` object written with `If-None-Match: *`, so no DynamoDB table is needed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from llm_twin.config import Settings

BACKEND_OVERRIDE = 'terraform {\n  backend "s3" {}\n}\n'
STACK_DIRS = {"main": ".", "bootstrap": "bootstrap"}


def state_bucket_name(settings: Settings, account: str) -> str:
    """STATE_BUCKET, or `<prefix>-tfstate-<account>`: inside the deployer's prefix, unique per account."""
    return settings.state.bucket or f"{settings.names.prefix}-tfstate-{account}"


def state_key(settings: Settings, stack: str) -> str:
    """One state object per stack, under the project prefix."""
    return f"{settings.names.prefix}/{stack}/terraform.tfstate"


def lock_key(settings: Settings, stack: str) -> str:
    """The lock object Terraform writes next to the state while it runs."""
    return f"{state_key(settings, stack)}.tflock"


def main_state(settings: Settings, bucket: str) -> dict[str, str] | None:
    """The bootstrap's `main_state`: the one state object (and its lock) the deployer may use.

    None without the S3 backend: a grant on a state bucket that does not exist yet would be
    a grant on a name anyone could still create, bucket names being global.
    """
    if settings.state.backend != "s3":
        return None
    return {"bucket": bucket, "key": state_key(settings, "main")}


def backend_config(settings: Settings, stack: str, bucket: str) -> dict[str, Any]:
    """The S3 backend's arguments for one stack on one target."""
    config: dict[str, Any] = {
        "bucket": bucket,
        "key": state_key(settings, stack),
        "region": settings.region,
        "use_lockfile": True,
        "encrypt": True,
    }
    if settings.endpoint_url:
        # The embedded emulator: path-style addressing on loopback, and no STS/IMDS lookups.
        config.update(
            {
                "endpoints": {"s3": settings.endpoint_url},
                "use_path_style": True,
                "skip_credentials_validation": True,
                "skip_requesting_account_id": True,
                "skip_metadata_api_check": True,
            }
        )
    return config


def render_tfbackend(config: dict[str, Any]) -> str:
    """HCL for a `.tfbackend` file; JSON literals are valid HCL for strings, bools and maps."""
    lines = []
    for name, value in config.items():
        if isinstance(value, dict):
            inner = ", ".join(f"{k} = {json.dumps(v)}" for k, v in value.items())
            lines.append(f"{name} = {{ {inner} }}")
        else:
            lines.append(f"{name} = {json.dumps(value)}")
    return "\n".join(lines) + "\n"


_NOT_STAGED = (".terraform", ".terraform.lock.hcl", "*.tfstate*", "*_override.tf")


def _tree(directory: Path) -> dict[str, bytes]:
    """Every staged file's bytes by relative path (what a copy of `directory` would hold)."""
    ignore = shutil.ignore_patterns(*_NOT_STAGED)
    files: dict[str, bytes] = {}
    for path in sorted(directory.rglob("*")):
        relative = path.relative_to(directory)
        if path.is_file() and not any(ignore(str(p.parent), [p.name]) for p in (relative, *relative.parents)):
            files[str(relative)] = path.read_bytes()
    return files


def stage_stack(terraform_dir: Path, stack: str, destination: Path) -> Path:
    """Copy the Terraform tree to `destination` with the S3 override; returns the stack's root.

    The whole tree is copied so the roots' relative module sources (`./modules/...`,
    `../modules/...`) resolve the same way; `.terraform` directories are left behind. An
    up-to-date copy is left untouched, so a run that is still applying from it (the one
    holding the lock, in another terminal) never sees its files replaced.
    """
    root = destination / STACK_DIRS[stack]
    override = root / "backend_override.tf"
    if (
        override.is_file()
        and override.read_text() == BACKEND_OVERRIDE
        and _tree(destination) == _tree(terraform_dir)
    ):
        return root
    staged = destination.with_name(destination.name + ".partial")
    shutil.rmtree(staged, ignore_errors=True)
    shutil.copytree(terraform_dir, staged, ignore=shutil.ignore_patterns(*_NOT_STAGED))
    (staged / STACK_DIRS[stack] / "backend_override.tf").write_text(BACKEND_OVERRIDE)
    shutil.rmtree(destination, ignore_errors=True)
    staged.rename(destination)
    return root
