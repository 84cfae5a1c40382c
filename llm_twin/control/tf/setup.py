"""The terraform binary, provider mirror and provider cache, checked before a command starts.

Without these checks a missing TF_CLI, an empty TF_PLUGIN_DIR or a TF_PLUGIN_CACHE_DIR
that is a file surfaces only after the emulator started and the state directory was
made, as a Terraform error (or a Python traceback) that does not name the setting.
Only commands that may run terraform call `check_terraform_setup`: `infer` and `cost`
work on a machine without it.
"""

from __future__ import annotations

import os
import shutil

from llm_twin.config import Settings
from llm_twin.config.rules import directory_problem, plugin_mirror_problem, required_providers
from llm_twin.config.values import invalid

MIRROR_ALLOWED = "expected empty or a provider mirror for `terraform init -plugin-dir`"


def binary_problem(binary: str) -> str | None:
    """Why `binary` cannot be started; None when PATH (or the path itself) gives an executable."""
    if shutil.which(binary) is not None:
        return None
    if os.sep in binary:
        return f"{binary} is not an executable file"
    return "no such executable on PATH; expected terraform, tofu, or a path to one"


def check_terraform_setup(settings: Settings) -> None:
    """SettingsError naming TF_CLI, TF_PLUGIN_DIR or TF_PLUGIN_CACHE_DIR when one is unusable."""
    if problem := binary_problem(settings.tooling.terraform_binary):
        raise invalid("TF_CLI", settings.tooling.terraform_binary, problem)
    if settings.tooling.plugin_dir is not None:
        stacks = (settings.tooling.terraform_dir, settings.tooling.terraform_dir / "bootstrap")
        providers = required_providers(stack / "versions.tf" for stack in stacks)
        if problem := plugin_mirror_problem(settings.tooling.plugin_dir, providers):
            raise invalid("TF_PLUGIN_DIR", str(settings.tooling.plugin_dir), f"{problem}; {MIRROR_ALLOWED}")
    if problem := directory_problem(settings.plugin_cache_dir):
        raise invalid("TF_PLUGIN_CACHE_DIR", str(settings.plugin_cache_dir), problem)
