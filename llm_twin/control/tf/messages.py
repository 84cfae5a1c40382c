"""Terraform's machine-readable UI (`-json`) as typed events: what each message means.

The format is Terraform's "Machine-readable UI" (ui version 1.x): one JSON object a
line, each with a `type`. `llm_twin.control.tf.events` parses lines into these;
`llm_twin.control.tf.display` renders them as one human line each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "ApplyComplete",
    "ApplyErrored",
    "ApplyProgress",
    "ApplyStart",
    "ChangeSummary",
    "Diagnostic",
    "LogEvent",
    "OutputChange",
    "OutputsEvent",
    "PlannedChange",
    "ProgressEvent",
    "ProvisionEvent",
    "RefreshComplete",
    "RefreshStart",
    "ResourceDrift",
    "VersionEvent",
]


@dataclass(frozen=True)
class VersionEvent:
    """The first message of every stream."""

    terraform: str
    """Version of the binary, e.g. "1.11.4" (OpenTofu reports its own version)."""
    ui: str
    """Version of this message format, e.g. "1.2"."""


@dataclass(frozen=True)
class LogEvent:
    """Free text: `log` and `init_output` messages, or a stdout line that is not JSON."""

    message: str
    """The text, possibly several lines (terraform's interrupt notice is)."""
    level: str = "info"
    """"trace", "debug", "info", "warn" or "error"."""
    structured: bool = True
    """False when the line was not a JSON message at all."""


@dataclass(frozen=True)
class Diagnostic:
    """An error or warning, as in the `-json` stream and in `validate -json`."""

    severity: Literal["error", "warning"]
    """"error" or "warning"."""
    summary: str
    """One short sentence, e.g. "Reference to undeclared input variable"."""
    detail: str = ""
    """Longer explanation; may span lines. Terraform redacts sensitive values."""
    address: str | None = None
    """Resource address the diagnostic is about, when terraform knows it."""
    filename: str | None = None
    """Configuration file of the offending expression, relative to the root module."""
    line: int | None = None
    """1-based line in `filename`."""


@dataclass(frozen=True)
class PlannedChange:
    """`planned_change`: the plan will act on one resource instance."""

    addr: str
    """Absolute address, e.g. "module.s3.aws_s3_bucket.this"."""
    action: str
    """"create", "update", "replace", "delete", "read", "move", "import", "forget", "noop"..."""
    reason: str | None = None
    """Why, for replacements and deletions (e.g. "cannot_update", "delete_because_count_index")."""


@dataclass(frozen=True)
class ResourceDrift:
    """`resource_drift`: a resource changed outside terraform since the last apply."""

    addr: str
    """Absolute address of the drifted resource."""
    action: str
    """"update" or "delete" (what happened remotely)."""


@dataclass(frozen=True)
class ChangeSummary:
    """`change_summary`: counts at the end of a plan or apply."""

    add: int
    """Resources to add (plan) or added (apply)."""
    change: int
    """Resources to change in place, or changed."""
    remove: int
    """Resources to destroy, or destroyed."""
    imported: int = 0
    """Resources to import, or imported."""
    operation: str = "plan"
    """"plan", "apply" or "destroy"."""

    @property
    def total(self) -> int:
        """How many resource instances the operation touches."""
        return self.add + self.change + self.remove + self.imported


@dataclass(frozen=True)
class ApplyStart:
    """`apply_start`: terraform began creating/updating/destroying one resource."""

    addr: str
    """Absolute resource address."""
    action: str
    """"create", "update", "replace", "delete", "read"..."""
    id_value: str | None = None
    """The resource id, when it already has one (updates, deletes)."""


@dataclass(frozen=True)
class ApplyProgress:
    """`apply_progress`: still working on a resource (every ~10 s)."""

    addr: str
    """Absolute resource address."""
    action: str
    """Same as the matching `ApplyStart.action`."""
    elapsed_seconds: int
    """Time since the matching `ApplyStart`."""


@dataclass(frozen=True)
class ApplyComplete:
    """`apply_complete`: one resource is done."""

    addr: str
    """Absolute resource address."""
    action: str
    """Same as the matching `ApplyStart.action`."""
    elapsed_seconds: int
    """How long it took, in whole seconds."""
    id_value: str | None = None
    """The resource id after the change (absent for deletes)."""


@dataclass(frozen=True)
class ApplyErrored:
    """`apply_errored`: one resource failed; a `Diagnostic` with the reason follows."""

    addr: str
    """Absolute resource address."""
    action: str
    """Same as the matching `ApplyStart.action`."""
    elapsed_seconds: int
    """Time until it failed."""


@dataclass(frozen=True)
class RefreshStart:
    """`refresh_start`: terraform is reading one resource's current state."""

    addr: str
    """Absolute resource address."""
    id_value: str | None = None
    """The id being read."""


@dataclass(frozen=True)
class RefreshComplete:
    """`refresh_complete`: one resource's state was read."""

    addr: str
    """Absolute resource address."""
    id_value: str | None = None
    """The id that was read."""


@dataclass(frozen=True)
class ProvisionEvent:
    """`provision_start`, `provision_progress`, `provision_complete`, `provision_errored`."""

    addr: str
    """Resource whose provisioner runs."""
    provisioner: str
    """Provisioner type, e.g. "local-exec"."""
    phase: Literal["start", "progress", "complete", "errored"]
    """Which of the four messages this is."""
    output: str = ""
    """One line of the provisioner's output (phase "progress" only)."""


@dataclass(frozen=True)
class OutputChange:
    """One root output named in an `outputs` message. Its value is deliberately not kept."""

    name: str
    """Output name."""
    sensitive: bool
    """Whether the output is marked sensitive."""
    action: str | None = None
    """Planned action ("create", "update", "delete", "noop"); None after an apply."""


@dataclass(frozen=True)
class OutputsEvent:
    """`outputs`: the root module's outputs after a plan or apply."""

    outputs: tuple[OutputChange, ...]
    """One entry per output, in name order."""


ProgressEvent = (
    VersionEvent
    | LogEvent
    | Diagnostic
    | PlannedChange
    | ResourceDrift
    | ChangeSummary
    | ApplyStart
    | ApplyProgress
    | ApplyComplete
    | ApplyErrored
    | RefreshStart
    | RefreshComplete
    | ProvisionEvent
    | OutputsEvent
)
"""Every event `parse_line` can return."""
