"""The patch registry: every patch to moto is listed there, and applies once per process."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from llm_twin_local.aws.registry import PatchRegistry
from tests.conftest import REPO

AWS_DIR = REPO / "llm_twin_local" / "aws"
PATCH_NAMES = {
    "core.backend_lookup",
    "sagemaker.hosting_instance_types",
    "sagemaker.empty_blocks",
    "sagemaker.deployment_config",
    "sagemaker.runtime_hooks",
    "applicationautoscaling.tags",
    "s3.eventbridge_notification",
    "s3.conditional_writes",
    "s3.secure_transport",
    "s3.multipart_uploads",
    "servicequotas.sagemaker_endpoints",
    "iam.enforcement",
}
OPT_IN = {"sagemaker.runtime_hooks", "iam.enforcement"}
"""Applied by their callers (the server with its runtime; IAM only when asked), not by `apply_all`."""


def _registered_in_source() -> dict[str, str]:
    """Patch name -> module, for every `@PATCHES.once("...")` in the emulator's source."""
    found = {}
    for path in AWS_DIR.rglob("*.py"):
        tree = ast.parse(path.read_text())
        constants = {  # a name given as a module constant, e.g. ENFORCEMENT_PATCH = "iam.enforcement"
            target.id: node.value.value
            for node in tree.body
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                for decorator in node.decorator_list:
                    if isinstance(decorator, ast.Call) and ast.unparse(decorator.func) == "PATCHES.once":
                        name = decorator.args[0]
                        value = name.value if isinstance(name, ast.Constant) else constants[ast.unparse(name)]
                        found[value] = str(path.relative_to(REPO))
    return found


def test_every_patch_in_the_source_goes_through_the_registry() -> None:
    assert set(_registered_in_source()) == PATCH_NAMES
    # The patch-once flag each module used to keep for itself: the registry is the one owner now.
    holders = [
        str(path.relative_to(REPO))
        for path in AWS_DIR.rglob("*.py")
        if any(isinstance(node, ast.Global) for node in ast.walk(ast.parse(path.read_text())))
    ]
    assert not holders


def test_a_patch_applies_once_and_is_listed() -> None:
    registry = PatchRegistry()
    runs: list[str] = []

    @registry.once("demo.first")
    def first() -> None:
        """Why the first one exists."""
        runs.append("first")

    @registry.once("demo.asked", by_default=False)
    def asked(who: str) -> None:
        runs.append(who)

    assert [(p.name, p.why, p.by_default) for p in registry.patches()] == [
        ("demo.first", "Why the first one exists.", True),
        ("demo.asked", "", False),
    ]
    registry.apply_all()
    registry.apply_all()
    first()
    assert runs == ["first"] and registry.applied("demo.first") and not registry.applied("demo.asked")
    asked("me")
    asked("you")  # the first caller wins
    assert runs == ["first", "me"] and registry.applied("demo.asked")


def test_a_patch_that_fails_is_not_marked_applied() -> None:
    registry = PatchRegistry()
    attempts: list[int] = []

    @registry.once("demo.flaky")
    def flaky() -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("moto moved")

    with pytest.raises(RuntimeError):
        registry.apply_all()
    assert not registry.applied("demo.flaky")
    registry.apply_all()
    registry.apply_all()
    assert len(attempts) == 2 and registry.applied("demo.flaky")


def test_a_name_is_registered_once() -> None:
    registry = PatchRegistry()
    registry.once("demo.twice")(lambda: None)
    with pytest.raises(ValueError, match="demo.twice"):
        registry.once("demo.twice")(lambda: None)


# Run in a process of its own: IAM enforcement and the runtime's hooks change moto for good.
_APPLY_TWICE = """
import json, sys, types
from pathlib import Path

from llm_twin_local.aws import authz, patches
from llm_twin_local.aws.registry import PATCHES
from llm_twin_local.aws.runtime import hooks
from llm_twin_local.aws.runtime.lifecycle import LocalRuntime


def snapshot():
    state = {}
    for name, module in list(sys.modules.items()):
        if not name.startswith(("moto", "werkzeug")) or module is None:
            continue
        for key, value in list(vars(module).items()):
            state[f"{name}.{key}"] = id(value)
            if isinstance(value, type):
                for attr, member in list(vars(value).items()):
                    state[f"{name}.{key}.{attr}"] = id(member)
    return state


def apply(state_dir):
    patches.apply_all()
    authz.enable()
    hooks.install(LocalRuntime(Path(state_dir)))


apply(sys.argv[1])
after_once = snapshot()
apply(sys.argv[2])
after_twice = snapshot()
changed = sorted(k for k in after_once if after_twice.get(k) != after_once[k])
print(json.dumps({
    "listed": {p.name: p.by_default for p in PATCHES.patches()},
    "applied": sorted(p.name for p in PATCHES.patches() if PATCHES.applied(p.name)),
    "changed": changed[:20],
    "compared": len(after_once),
}))
"""


def test_the_emulators_patches_are_all_listed_and_apply_once(tmp_path: Path) -> None:
    """Applied twice in one process, the second time changes nothing in moto (or werkzeug)."""
    result = subprocess.run(
        [sys.executable, "-c", _APPLY_TWICE, str(tmp_path / "a"), str(tmp_path / "b")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["listed"] == {name: name not in OPT_IN for name in PATCH_NAMES}
    assert report["applied"] == sorted(PATCH_NAMES)
    assert report["changed"] == [] and report["compared"] > 10000
