"""The error tree: every class's exit code, and the drawing in the module docstring kept true.

The drawing is what a reader trusts; it is parsed here, so a class added, moved or given
another exit code fails this file until the drawing says so too.
"""

from __future__ import annotations

import inspect
import re

import pytest

from llm_twin import errors
from llm_twin.errors import LlmTwinError

EXIT_CODES = {
    "LlmTwinError": 1,
    "SettingsError": 2,
    "CheckpointError": 2,
    "ConfirmationRequiredError": 2,
    "BudgetExceededError": 2,
    "StateError": 1,
    "BootstrapRequiredError": 1,
    "TerraformError": 1,
    "StateLockedError": 1,
    "EmulatorError": 1,
    "PreflightFailedError": 1,
    "GatewayRequestError": 1,
    "AwsError": 1,
    "EndpointFailedError": 1,
    "EndpointNotFoundError": 1,
    "EndpointNotReadyError": 1,
    "RolloutRolledBackError": 1,
    "ModelStoreError": 1,
    "ModelConflictError": 1,
    "InferenceError": 1,
    "StreamParseError": 1,
    "StreamTimeoutError": 1,
    "ModelStreamError": 1,
    "AsyncInferenceError": 1,
    "AsyncTimeoutError": 1,
    "GenerationError": 1,
    "ValidationError": 1,
    "OverloadedError": 1,
    "IncompleteGenerationError": 1,
}
"""Usage errors (nothing ran) exit 2, everything else 1: the contract scripts rely on."""

CLASSES = {
    name: cls
    for name, cls in inspect.getmembers(errors, inspect.isclass)
    if issubclass(cls, LlmTwinError) and cls.__module__ == errors.__name__
}
DRAWN = re.compile(r"^(?P<indent>[│├└─ ]*)(?P<name>[A-Z]\w+)\s+exit (?P<code>\d+)\s")


def _drawing() -> dict[str, tuple[int, str | None, int]]:
    """Each drawn class: (depth, parent drawn above it, exit code drawn)."""
    assert errors.__doc__
    drawn: dict[str, tuple[int, str | None, int]] = {}
    parents: list[str] = []
    for line in errors.__doc__.splitlines():
        match = DRAWN.match(line)
        if match is None:
            continue
        depth = len(match["indent"]) // 4
        del parents[depth:]
        drawn[match["name"]] = (depth, parents[-1] if parents else None, int(match["code"]))
        parents.append(match["name"])
    return drawn


def test_every_class_has_its_expected_exit_code() -> None:
    assert {name: cls.exit_code for name, cls in CLASSES.items()} == EXIT_CODES


@pytest.mark.parametrize("name", sorted(EXIT_CODES))
def test_each_class_states_its_exit_code_itself(name: str) -> None:
    """Not inherited by accident: a new subclass of SettingsError must decide too."""
    assert "exit_code" in vars(CLASSES[name])


def test_the_drawing_lists_every_class_under_its_parent_with_its_exit_code() -> None:
    drawn = _drawing()
    assert set(drawn) == set(CLASSES)
    for name, (_, parent, code) in drawn.items():
        cls = CLASSES[name]
        expected_parent = None if cls is LlmTwinError else cls.__bases__[0].__name__
        assert (parent, code) == (expected_parent, cls.exit_code), name


def test_generation_error_types_map_to_their_classes() -> None:
    assert type(errors.generation_error("m", "validation")) is errors.ValidationError
    assert type(errors.generation_error("m", "new_kind", partial_text="x")) is errors.GenerationError
    assert errors.generation_error("m", None, partial_text="so far").partial_text == "so far"
