"""Static secret hygiene: git ignores secrets, state and plans; secret outputs are sensitive."""

from __future__ import annotations

import re
import subprocess
from typing import Any

import pytest

from tests.conftest import REPO
from tests.terraform.conftest import STACKS, Plans, module_configurations

# Paths, relative to the repository, that must never be committed.
MUST_BE_IGNORED = [
    ".env",
    ".env.local",
    ".env.aws",
    "sagemaker_user_credentials.json",
    "llm_twin/sagemaker_user_credentials.json",
    "aws-credentials.json",
    ".aws/credentials",
    "deployer.pem",
    "terraform/terraform.tfstate",
    "terraform/terraform.tfstate.backup",
    "terraform/bootstrap/terraform.tfstate",
    "terraform/.terraform.tfstate.lock.info",
    "terraform/tfplan",
    "terraform/main.tfplan",
    "terraform/main.tfplan.json",
    "terraform/terraform.tfvars.json",
    "terraform/terraform.tfvars",
    "terraform/secrets.auto.tfvars",
    "terraform/.terraform/terraform.tfstate",
    ".llm-twin/local/main/terraform.tfstate",
    ".llm-twin/aws/bootstrap/tfplan",
    "terraform/crash.log",
    "terraform/crash.1700000000.log",
]
# Files the project needs in git, next to the patterns above.
MUST_BE_TRACKABLE = [".env.example", ".checkov.yaml", "terraform/variables.tf", "tests/fixtures/terraform"]

# By name, for values no schema marks: "hf_token" is a secret, "max_total_tokens" is not.
SECRET_NAME = re.compile(r"secret|password|passwd|private_key|credential|(^|_)token($|_)", re.IGNORECASE)


def _ignored(path: str) -> bool:
    # --no-index: judge the pattern, whether or not such a file happens to be tracked.
    run = subprocess.run(["git", "-C", str(REPO), "check-ignore", "-q", "--no-index", path], check=False)
    assert run.returncode in (0, 1), f"git check-ignore failed for {path}"
    return run.returncode == 0


@pytest.mark.parametrize("path", MUST_BE_IGNORED)
def test_gitignore_covers_secrets_state_and_plans(path: str) -> None:
    assert _ignored(path)


def test_gitignore_keeps_what_the_project_needs() -> None:
    assert [p for p in MUST_BE_TRACKABLE if _ignored(p)] == []


def test_no_secret_state_or_plan_file_is_tracked() -> None:
    tracked = subprocess.run(
        ["git", "-C", str(REPO), "ls-files"], check=True, capture_output=True, text=True
    ).stdout.split()
    assert tracked, "not a git work tree"
    assert [p for p in tracked if _ignored(p)] == []


def _needs_sensitive(
    reference: str, module: dict[str, Any], sensitive_outputs: set[str], plans: Plans
) -> bool:
    """Whether one (most specific) reference in an output's expression carries a secret."""
    parts = reference.split(".")
    if parts[0] == "var":
        return bool(module.get("variables", {}).get(parts[1], {}).get("sensitive"))
    if parts[0] == "module":
        return len(parts) > 2 and f"{parts[1]}.{parts[2]}" in sensitive_outputs
    schema = plans.resource_schemas.get(parts[0])
    if schema is None:
        return False
    attributes = schema["block"].get("attributes", {})
    if len(parts) < 3:  # the whole object, every attribute of it
        return any(a.get("sensitive") for a in attributes.values())
    return bool(attributes.get(parts[2].split("[")[0], {}).get("sensitive"))


def _most_specific(references: list[str]) -> list[str]:
    """`a.b[0].secret` also lists `a.b[0]` and `a.b`: keep only the longest of each chain."""
    return [r for r in references if not any(o != r and o.startswith(r) for o in references)]


@pytest.mark.parametrize("stack", STACKS)
def test_outputs_that_carry_secrets_are_sensitive(plans: Plans, stack: str) -> None:
    modules = dict(module_configurations(plans.shown[("local", stack)]))
    # Children first, so a parent sees which of its module calls' outputs are sensitive.
    sensitive_outputs: dict[str, set[str]] = {}
    exposed, checked = [], 0
    for address in sorted(modules, key=lambda a: -a.count("module.")):
        module = modules[address]
        own = set()
        children = {
            f"{name}.{output}"
            for name in module.get("module_calls", {})
            for output in sensitive_outputs.get(f"{address}module.{name}.", ())
        }
        for name, output in module.get("outputs", {}).items():
            references = _most_specific(output.get("expression", {}).get("references", []))
            carries = SECRET_NAME.search(name) is not None or any(
                _needs_sensitive(r, module, children, plans) for r in references
            )
            checked += carries
            if output.get("sensitive"):
                own.add(name)
            elif carries:
                exposed.append(f"{address}output.{name}")
        sensitive_outputs[address] = own
    assert exposed == []
    if stack == "bootstrap":
        # The deployer's secret key is found by the rules above, so they are not vacuous.
        assert checked >= 2
        assert "deployer_secret_access_key" in sensitive_outputs[""]
