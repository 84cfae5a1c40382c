"""One human line per terraform event: what the CLI prints while terraform runs.

Pure: no printing here (only the CLI prints). A line never contains a raw JSON
message or an output's value, so nothing sensitive reaches a terminal or a CI log.
"""

from __future__ import annotations

from llm_twin.control.tf.messages import (
    ApplyComplete,
    ApplyErrored,
    ApplyProgress,
    ApplyStart,
    ChangeSummary,
    Diagnostic,
    LogEvent,
    OutputsEvent,
    PlannedChange,
    ProgressEvent,
    ProvisionEvent,
    RefreshComplete,
    RefreshStart,
    ResourceDrift,
    VersionEvent,
)

__all__ = ["render"]

_SYMBOLS = {
    "create": "+",
    "update": "~",
    "replace": "-/+",
    "delete": "-",
    "read": "<=",
    "import": "<-",
    "move": "->",
    "forget": ".",
    "noop": " ",
}
_DOING = {
    "create": "creating",
    "update": "updating",
    "replace": "replacing",
    "delete": "destroying",
    "read": "reading",
    "import": "importing",
    "move": "moving",
    "forget": "forgetting",
}
_DONE = {
    "create": "created",
    "update": "updated",
    "replace": "replaced",
    "delete": "destroyed",
    "read": "read",
    "import": "imported",
    "move": "moved",
    "forget": "forgotten",
}
_BASE = {"delete": "destroy"}
_PLANNED = {"create": "will be created", "update": "will be updated in place", "delete": "will be destroyed"}


def _symbol(action: str) -> str:
    return _SYMBOLS.get(action, "?")


def _duration(seconds: int) -> str:
    minutes, rest = divmod(max(seconds, 0), 60)
    return f"{minutes}m{rest}s" if minutes else f"{rest}s"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def render(event: ProgressEvent) -> str:
    """One human line for an event. Never contains a raw JSON message or an output value."""
    match event:
        case ApplyStart(addr, action):
            return f"{_symbol(action)} {addr}  {_DOING.get(action, action)}..."
        case ApplyProgress(addr, action, elapsed):
            return f"{_symbol(action)} {addr}  still {_DOING.get(action, action)} ({_duration(elapsed)})"
        case ApplyComplete(addr, action, elapsed):
            return f"{_symbol(action)} {addr}  {_DONE.get(action, action)} ({_duration(elapsed)})"
        case ApplyErrored(addr, action, elapsed):
            return f"! {addr}  {_BASE.get(action, action)} failed ({_duration(elapsed)})"
        case PlannedChange(addr, action, reason):
            suffix = f" ({reason.replace('_', ' ')})" if reason else ""
            planned = _PLANNED.get(action, f"will be {_DONE.get(action, action)}")
            return f"{_symbol(action)} {addr}  {planned}{suffix}"
        case ResourceDrift(addr, action):
            return f"{_symbol(action)} {addr}  changed outside terraform ({action})"
        case ChangeSummary():
            return _render_summary(event)
        case Diagnostic():
            return _render_diagnostic(event)
        case RefreshStart(addr):
            return f"  {addr}  refreshing..."
        case RefreshComplete(addr):
            return f"  {addr}  refreshed"
        case ProvisionEvent(addr, provisioner, "progress", output):
            return f"  {addr} ({provisioner}): {_one_line(output)}"
        case ProvisionEvent(addr, provisioner, phase):
            verb = {"start": "running", "complete": "done", "errored": "failed"}[phase]
            return f"  {addr} ({provisioner}) {verb}"
        case OutputsEvent(outputs):
            names = ", ".join(o.name for o in outputs)
            return f"Outputs: {names}" if names else "Outputs: none"
        case VersionEvent(version, ui):
            return f"Terraform {version} (ui {ui})"
        case LogEvent(message):
            return _one_line(message)
    raise TypeError(f"not a progress event: {type(event).__name__}")


def _render_summary(summary: ChangeSummary) -> str:
    imported = summary.imported
    if summary.operation == "plan":
        head = f"{imported} to import, " if imported else ""
        return f"Plan: {head}{summary.add} to add, {summary.change} to change, {summary.remove} to destroy."
    if summary.operation == "destroy":
        return f"Destroy complete! Resources: {summary.remove} destroyed."
    tail = f", {imported} imported" if imported else ""
    return (
        f"Apply complete! Resources: {summary.add} added, {summary.change} changed, "
        f"{summary.remove} destroyed{tail}."
    )


def _render_diagnostic(diagnostic: Diagnostic) -> str:
    label = "Warning" if diagnostic.severity == "warning" else "Error"
    line = f"{label}: {_one_line(diagnostic.summary)}"
    if diagnostic.detail.strip():
        line += f": {_one_line(diagnostic.detail)}"
    where = diagnostic.address or (
        f"{diagnostic.filename}:{diagnostic.line}" if diagnostic.filename and diagnostic.line else None
    )
    return f"{line} ({where})" if where else line
