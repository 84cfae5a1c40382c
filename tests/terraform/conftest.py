"""Saved plans of both stacks, for both targets' variable sets, shared by the policy tests.

Nothing is applied: one emulator on a free port answers the four plans. The aws set is
rendered from TARGET=aws settings, so the checks cover what `make apply` sends to AWS.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest

from llm_twin.config import Settings
from llm_twin.control import tfvars
from llm_twin.control.deploy.deployment import Deployment
from llm_twin.control.deploy.stacks import StackPaths
from llm_twin.control.identity import LOCAL_ADMIN
from llm_twin.control.state import backend as state_backend
from tests.conftest import client, private_target, settings_for

TARGETS = ("local", "aws")
STACKS = ("bootstrap", "main")
AWS_PROVIDER = "registry.terraform.io/hashicorp/aws"


@dataclass(frozen=True)
class Plans:
    """`terraform show -json` of each saved plan, with what the checks compare it to."""

    shown: dict[tuple[str, str], dict[str, Any]]
    """(target, stack) → the saved plan as `terraform show -json` prints it."""
    settings: dict[str, Settings]
    """target → the settings its variables were rendered from."""
    resource_schemas: dict[str, Any]
    """The aws provider's resource schemas, from `terraform providers schema -json`."""
    account: str
    """The account the plans ran against (the emulator's)."""

    def execution_role_arn(self, target: str) -> str:
        return f"arn:aws:iam::{self.account}:role/{self.settings[target].names.prefix}-sagemaker-execution"


def _aws_environ(local: dict[str, str]) -> dict[str, str]:
    """TARGET=aws as production runs it (S3 state); the keys only satisfy the settings check, nothing signs with them."""
    base = {k: v for k, v in local.items() if k.startswith(("TF_", "LOCAL_", "LLM_TWIN_", "AWS_REGION"))}
    return {
        **base,
        "TARGET": "aws",
        "STATE_BACKEND": "s3",
        "AWS_ACCESS_KEY_ID": "AKIAPLANPOLICYTEST00",
        "AWS_SECRET_ACCESS_KEY": "plan-policy-test-not-a-secret",
    }


def _resource_schemas(deployment: Deployment) -> dict[str, Any]:
    """The provider's own schema decides what is taggable, not a list kept here."""
    s = deployment.settings
    run = subprocess.run(
        [s.tooling.terraform_binary, f"-chdir={s.tooling.terraform_dir}", "providers", "schema", "-json"],
        env={**os.environ, "TF_DATA_DIR": str(deployment.main_paths.data_dir.resolve())},
        capture_output=True,
        check=True,
        timeout=300,
    )
    return json.loads(run.stdout)["provider_schemas"][AWS_PROVIDER]["resource_schemas"]


@pytest.fixture(scope="session")
def plans(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plans]:
    root = tmp_path_factory.mktemp("plan-policy")
    # The local set switches the optional parts on, the aws set keeps a new user's defaults:
    # between them, both sides of each switch are planned.
    overrides = {
        "AUTOSCALING_ENABLED": "true",
        "AUTOSCALING_MIN_CAPACITY": "1",
        "AUTOSCALING_MAX_CAPACITY": "3",
        "SCHEDULED_SCALE_IN": "true",
        "ASYNC_INFERENCE_ENABLED": "true",
    }
    with private_target(root / "state", **overrides) as local_env:
        deployment = Deployment(settings_for(local_env))
        deployment.ensure_local()
        settings = {"local": deployment.settings, "aws": settings_for(_aws_environ(local_env))}
        account = client(deployment.settings.local.port, "sts").get_caller_identity()["Account"]
        shown: dict[tuple[str, str], dict[str, Any]] = {}
        schema_reader = ThreadPoolExecutor(max_workers=1)
        for stack in STACKS:
            terraform = deployment._terraform(stack, LOCAL_ADMIN)
            if stack == "main":
                # Read-only and lock-free: it overlaps the plans instead of following them.
                schemas = schema_reader.submit(_resource_schemas, deployment)
            for target in TARGETS:
                if stack == "bootstrap":
                    bucket = state_backend.state_bucket_name(settings[target], account)
                    variables = {
                        **tfvars.bootstrap_vars(settings[target]),
                        "main_state": state_backend.main_state(settings[target], bucket),
                    }
                else:
                    # What the bootstrap would output: its plan knows the bucket name; the
                    # role's ARN follows from its name and the account.
                    outputs = shown[(target, "bootstrap")]["planned_values"]["outputs"]
                    bootstrap_outputs = {
                        "artifact_bucket_name": outputs["artifact_bucket_name"]["value"],
                        "execution_role_arn": f"arn:aws:iam::{account}:role/"
                        f"{settings[target].names.prefix}-sagemaker-execution",
                    }
                    variables = tfvars.main_vars(settings[target], bootstrap_outputs)
                paths = StackPaths(root / target / stack)
                plan = deployment._plan(terraform, paths, variables)
                shown[(target, stack)] = terraform.show_json(plan.plan_file)
        schema_reader.shutdown()
        yield Plans(shown, settings, schemas.result(), account)


def managed_resources(shown: dict[str, Any]) -> list[dict[str, Any]]:
    """Every managed resource instance in a plan's planned values, through all modules."""
    found: list[dict[str, Any]] = []
    pending = [shown["planned_values"]["root_module"]]
    while pending:
        module = pending.pop()
        found.extend(r for r in module.get("resources", ()) if r["mode"] == "managed")
        pending.extend(module.get("child_modules", ()))
    return found


def module_configurations(shown: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(address, configuration) of the root module and every module it calls."""
    pending = [("", shown["configuration"]["root_module"])]
    while pending:
        address, module = pending.pop()
        yield address, module
        for name, call in module.get("module_calls", {}).items():
            pending.append((f"{address}module.{name}.", call["module"]))
