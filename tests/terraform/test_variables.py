"""Terraform's variables keep no second copy of what the settings own.

The CLI renders every value the settings hold (llm_twin/control/tfvars.py), so a default in
the root stacks would be a copy nobody uses, free to drift; the module's grouped objects keep
terraform-aws-modules' `optional(type, default)` style, and each such default must equal what
the CLI renders from the default settings. The token-limit validation is the rule table of
llm_twin/config/tokens.py, condition for condition. Read from the HCL text: no terraform runs.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from llm_twin.config import Settings
from llm_twin.config.tokens import TOKEN_RULES
from llm_twin.control import tfvars
from tests.conftest import REPO

TERRAFORM = REPO / "terraform"
MODULE = TERRAFORM / "modules" / "sagemaker_endpoint" / "variables.tf"
BACKEND_VARIABLES = MODULE.with_name("environment.tf")
"""The module keeps its serving backend's variables beside the environment they render."""
BOOTSTRAP_OUTPUTS = {
    "execution_role_arn": "arn:aws:iam::123456789012:role/llm-twin-sagemaker-execution",
    "artifact_bucket_name": "llm-twin-artifacts",
}
DERIVED = {"tags", "s3_use_path_style"}
"""Rendered from the target and the project, not from a setting's default: their defaults are Terraform's."""
WHOLE_NUMBERS = "alltrue([for v in values(var.token_limits) : v >= 1 && floor(v) == v])"
"""The one token_limits validation that is a domain check, not a rule between two limits."""
TGI_ONLY = 'var.backend != "tgi" || '
"""TGI's launcher rules bind the tgi backend only: vLLM reads max_total_tokens alone."""


def _block(text: str, start: int) -> str:
    """From `start` (just after an opening brace) to its matching closing brace."""
    depth = 1
    for index in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[index], 0)
        if depth == 0:
            return text[start:index]
    raise AssertionError("unbalanced braces")


def variables(path) -> dict[str, str]:
    """Variable name -> the body of its block."""
    text = path.read_text()
    return {m.group(1): _block(text, m.end()) for m in re.finditer(r'^variable "(\w+)" \{', text, re.M)}


def module_variables() -> dict[str, str]:
    return {**variables(MODULE), **variables(BACKEND_VARIABLES)}


def _split_top_level(text: str) -> tuple[str, str | None]:
    depth = 0
    for index, char in enumerate(text):
        depth += {"(": 1, "{": 1, "[": 1, ")": -1, "}": -1, "]": -1}.get(char, 0)
        if char == "," and depth == 0:
            return text[:index].strip(), text[index + 1 :].strip()
    return text.strip(), None


def attributes(body: str) -> dict[str, tuple[str, Any]]:
    """An object type's attributes: name -> ("required" | "optional", default or None)."""
    found: dict[str, tuple[str, Any]] = {}
    for name, value in re.findall(r"^\s{4}(\w+)\s*=\s*(.+?)\s*$", body, re.M):
        if value.startswith("optional("):
            _, default = _split_top_level(value[len("optional(") : -1])
            found[name] = ("optional", None if default is None else json.loads(default))
        else:
            found[name] = ("required", None)
    return found


def default_of(body: str) -> str | None:
    """The text of a variable's `default = ...`, or None when it has none."""
    match = re.search(r"^  default\s*=\s*(.+?)\s*$", body, re.M)
    return match.group(1) if match else None


def rendered() -> dict[str, Any]:
    return tfvars.main_vars(Settings(), BOOTSTRAP_OUTPUTS)


# -- token limits ---------------------------------------------------------------------------------


def test_the_token_limit_validation_is_exactly_the_token_rules() -> None:
    body = variables(MODULE)["token_limits"]
    conditions = re.findall(r"^\s*condition\s*=\s*(.+?)\s*$", body, re.M)
    assert WHOLE_NUMBERS in conditions
    relations = sorted(c for c in conditions if c != WHOLE_NUMBERS)
    assert relations == sorted(TGI_ONLY + rule.terraform_condition for rule in TOKEN_RULES)


# -- endpoint defaults ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "render"),
    [
        (TERRAFORM / "variables.tf", rendered),
        (TERRAFORM / "bootstrap" / "variables.tf", lambda: tfvars.bootstrap_vars(Settings())),
    ],
    ids=["main", "bootstrap"],
)
def test_the_root_stacks_keep_no_default_the_settings_own(path, render) -> None:
    declared = variables(path)
    copies = []
    for name, value in render().items():
        if name in DERIVED:
            continue
        body = declared[name]
        if default_of(body) not in (None, "null"):
            copies.append(f"{name}: default = {default_of(body)}")
        if isinstance(value, dict):
            copies += [
                f"{name}.{attribute}: optional(..., {json.dumps(default)})"
                for attribute, (kind, default) in attributes(body).items()
                if attribute in value and kind == "optional" and default is not None
            ]
    assert copies == []


def test_the_modules_grouped_defaults_equal_what_the_settings_render() -> None:
    """autoscaling, rollout, alarms, scheduled_scaling, async_inference: same names in root and module."""
    module, root = module_variables(), variables(TERRAFORM / "variables.tf")
    values = rendered()
    checked = 0
    for name in sorted(set(values) & set(module)):
        if not isinstance(values[name], dict):
            continue
        for attribute, (kind, default) in attributes(module[name]).items():
            if kind != "optional" or default is None:
                continue
            if attribute in values[name]:
                assert default == values[name][attribute], f"{name}.{attribute}"
                checked += 1
            else:
                # Not a setting: the module owns it, and the root passes null (or nothing) through.
                assert attributes(root[name]).get(attribute, ("optional", None)) == ("optional", None)
    assert checked >= 20


def test_the_module_has_no_default_for_what_the_root_always_passes() -> None:
    module = module_variables()
    endpoint = rendered()["endpoint"]
    always = sorted(set(endpoint) & set(module)) + ["token_limits"]
    assert {
        "instance_type",
        "instance_count",
        "num_gpus",
        "tgi_image_tag",
        "messages_api_enabled",
        "backend",
    } <= set(always)
    assert {
        name: default_of(module[name]) for name in always if default_of(module[name]) not in (None, "null")
    } == {}
