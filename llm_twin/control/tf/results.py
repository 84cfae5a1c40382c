"""What a terraform command returns: typed results over its `-json` output (the runner makes them)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llm_twin.control.tf.messages import ChangeSummary, Diagnostic, PlannedChange

__all__ = ["ApplyResult", "OutputValue", "PlanResult", "ValidateResult"]


@dataclass(frozen=True)
class ValidateResult:
    """`terraform validate -json`."""

    valid: bool
    """True when the configuration has no errors."""
    diagnostics: tuple[Diagnostic, ...]
    """Errors and warnings, in terraform's order."""


@dataclass(frozen=True)
class PlanResult:
    """`terraform plan`."""

    changes: bool
    """True when applying the plan would change resources or outputs."""
    summary: ChangeSummary | None
    """The counts terraform reported (None only if the stream had no summary)."""
    planned_changes: tuple[PlannedChange, ...]
    """One entry per resource instance the plan acts on."""
    diagnostics: tuple[Diagnostic, ...]
    """Warnings (errors raise instead)."""
    plan_file: Path | None
    """The saved plan (`out=`), absolute, or None."""


@dataclass(frozen=True)
class ApplyResult:
    """`terraform apply` or `destroy`."""

    summary: ChangeSummary | None
    """What was added, changed and destroyed."""
    diagnostics: tuple[Diagnostic, ...]
    """Warnings (errors raise instead)."""


@dataclass(frozen=True)
class OutputValue:
    """One root output from `terraform output -json`."""

    value: Any
    """The decoded value (strings, numbers, lists, dicts...)."""
    type: Any
    """Terraform's JSON type description, e.g. "string" or ["list", "string"]."""
    sensitive: bool
    """Marked sensitive in the configuration; `repr` hides the value."""

    def __repr__(self) -> str:
        shown = "<sensitive>" if self.sensitive else repr(self.value)
        return f"OutputValue(value={shown}, type={self.type!r}, sensitive={self.sensitive})"
