"""Secrets on disk and in logs, at the runner's level (the full apply is in test_lifecycle.py).

Terraform writes state, backups and plans with the process umask (0644 by default), and
they hold every secret a stack knows. The runner gives terraform a 0077 umask, and
`StackPaths.make_private` fixes files an earlier run left readable. With TF_LOG set, the
aws provider would log request bodies (a model's HF_TOKEN included): its log is switched off.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from llm_twin.control.deploy.deployment import StackPaths
from llm_twin.control.tf.runner import Terraform, TerraformConfig
from tests.conftest import PLUGIN_CACHE

SECRET = "hf_SECRETS_test_tok_5e1f"

# Only terraform's built-in provider: no download, no AWS.
BUILTIN_STACK = """
variable "token" {
  type      = string
  sensitive = true
}

resource "terraform_data" "model" {
  input = var.token
}
"""

# The aws provider, configured without any call to AWS, and one data source it answers itself.
AWS_PROVIDER_STACK = """
terraform {
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
}

variable "token" {
  type      = string
  sensitive = true
}

provider "aws" {
  region                      = "eu-central-1"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
}

data "aws_partition" "this" {}

output "token_hash" {
  value = nonsensitive(sha256("${data.aws_partition.this.partition}${var.token}"))
}
"""


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _runner(tmp_path: Path, source: str, **config: object) -> Terraform:
    root = tmp_path / "stack"
    root.mkdir()
    (root / "main.tf").write_text(source)
    return Terraform(
        TerraformConfig(
            working_dir=root,
            data_dir=tmp_path / ".terraform",
            env={"TF_VAR_token": SECRET},
            **config,  # type: ignore[arg-type]
        )
    )


def test_state_backups_and_plans_come_out_owner_only(tmp_path: Path) -> None:
    terraform = _runner(tmp_path, BUILTIN_STACK)
    state = tmp_path / "stack" / "terraform.tfstate"
    terraform.init()
    for source in (BUILTIN_STACK.replace("var.token", "sha256(var.token)"), BUILTIN_STACK):
        (tmp_path / "stack" / "main.tf").write_text(source)
        plan = terraform.plan(out=tmp_path / "tfplan")
        terraform.apply(plan.plan_file)  # the second apply also writes the backup
    assert SECRET in state.read_text()  # why the mode matters
    written = [state, state.with_name("terraform.tfstate.backup"), tmp_path / "tfplan"]
    assert {str(p): oct(_mode(p)) for p in written} == {str(p): "0o600" for p in written}


def test_files_an_earlier_run_left_readable_are_made_private(tmp_path: Path) -> None:
    paths = StackPaths(tmp_path / "main")
    paths.root.mkdir(mode=0o755)
    backup = paths.state.with_name("terraform.tfstate.backup")
    for path in (paths.state, backup, paths.plan, paths.tfvars):
        path.write_text("{}")
        path.chmod(0o644)
    paths.make_private()
    assert _mode(paths.root) == 0o700
    assert {_mode(p) for p in (paths.state, backup, paths.plan, paths.tfvars)} == {0o600}


def test_make_private_creates_the_stack_directory_owner_only(tmp_path: Path) -> None:
    paths = StackPaths(tmp_path / "local" / "main")
    paths.make_private()
    assert _mode(paths.root) == 0o700 and not any(paths.root.iterdir())


def test_terraform_logs_keep_the_provider_quiet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real terraform run with the aws provider, every log switch at TRACE, into a file."""
    log = tmp_path / "terraform.log"
    for switch in ("TF_LOG", "TF_LOG_PROVIDER", "TF_LOG_SDK_PROTO"):
        monkeypatch.setenv(switch, "TRACE")
    monkeypatch.setenv("TF_LOG_PATH", str(log))
    plugin_dir = os.environ.get("TF_PLUGIN_DIR")
    terraform = _runner(
        tmp_path,
        AWS_PROVIDER_STACK,
        plugin_dir=Path(plugin_dir) if plugin_dir else None,
        plugin_cache_dir=PLUGIN_CACHE,
    )
    terraform.init()
    terraform.plan(out=tmp_path / "tfplan")
    logged = log.read_text()
    assert "[INFO]  Terraform version" in logged  # terraform's own log is kept
    assert "provider.terraform-provider-aws" not in logged  # thousands of lines without the switch-off
    assert SECRET not in logged
    assert _mode(log) == 0o600
