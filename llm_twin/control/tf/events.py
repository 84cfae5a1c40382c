"""Terraform's machine-readable UI (`-json`), parsed into typed events.

Pure: no subprocesses, no printing. `terraform.py` feeds the bytes of a running
command through `LineBuffer` and `parse_line`; the CLI prints `render(event)`.

The format is Terraform's "Machine-readable UI" (ui version 1.x): one JSON object
a line, each with a `type`. Minor versions may add types and properties, so
unknown types and unknown properties are ignored. A line that is not JSON at all
(a provider writing to stdout, an old binary) becomes a plain `LogEvent`, so the
parser never raises on what terraform prints.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "ApplyComplete",
    "ApplyErrored",
    "ApplyProgress",
    "ApplyStart",
    "ChangeSummary",
    "Diagnostic",
    "LineBuffer",
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
    "first_error",
    "parse_diagnostic",
    "parse_line",
    "parse_stream",
    "render",
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


class LineBuffer:
    """Bytes in, complete text lines out, for a stream read in arbitrary chunks.

    Chunks may split a line or a UTF-8 sequence anywhere; `flush()` returns the
    last line even when the stream did not end with a newline.
    """

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""

    def feed(self, chunk: bytes) -> list[str]:
        """Add bytes; return the lines they completed, without line endings."""
        text = self._pending + self._decoder.decode(chunk)
        *lines, self._pending = text.split("\n")
        return [line.removesuffix("\r") for line in lines]

    def flush(self) -> list[str]:
        """End of stream: return the unterminated last line, if any."""
        text = self._pending + self._decoder.decode(b"", final=True)
        self._pending = ""
        return [text.removesuffix("\r")] if text else []


def parse_stream(chunks: Iterable[bytes]) -> Iterator[ProgressEvent]:
    """Parse a whole `-json` byte stream, chunked any way, into events."""
    buffer = LineBuffer()
    for chunk in chunks:
        for line in buffer.feed(chunk):
            if (event := parse_line(line)) is not None:
                yield event
    for line in buffer.flush():
        if (event := parse_line(line)) is not None:
            yield event


def parse_line(line: str | bytes) -> ProgressEvent | None:
    """One line of `-json` output → its event, or None for blank lines and unknown types."""
    if isinstance(line, bytes):
        line = line.decode("utf-8", errors="replace")
    text = line.strip()
    if not text:
        return None
    try:
        message = json.loads(text)
    except (ValueError, RecursionError):
        if text.startswith("{"):
            # A broken JSON object could hold anything; never echo it raw.
            return LogEvent(
                f"unreadable JSON message from terraform ({len(text)} characters)",
                level="warn",
                structured=False,
            )
        return LogEvent(text, structured=False)
    if not isinstance(message, dict):
        return None
    parser = _PARSERS.get(str(message.get("type", "")))
    if parser is None:
        return None
    try:
        return parser(message)
    except (KeyError, TypeError, ValueError, AttributeError):
        # A known type with an unexpected shape: fall back to its own summary line.
        return LogEvent(_text(message.get("@message")), level=_text(message.get("@level")) or "info")


def parse_diagnostic(raw: Mapping[str, Any]) -> Diagnostic:
    """A diagnostic object (from the `-json` stream or `validate -json`) → `Diagnostic`."""
    start = (raw.get("range") or {}).get("start") or {}
    severity = "warning" if raw.get("severity") == "warning" else "error"
    return Diagnostic(
        severity=severity,
        summary=_text(raw.get("summary")),
        detail=_text(raw.get("detail")),
        address=raw.get("address") or None,
        filename=(raw.get("range") or {}).get("filename") or None,
        line=start.get("line") if isinstance(start.get("line"), int) else None,
    )


def first_error(events: Iterable[object]) -> Diagnostic | None:
    """The first error-severity diagnostic among `events`, if any."""
    return next((e for e in events if isinstance(e, Diagnostic) and e.severity == "error"), None)


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _addr(hook: Mapping[str, Any]) -> str:
    return str(hook["resource"]["addr"])


def _opt(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _seconds(hook: Mapping[str, Any]) -> int:
    return int(hook.get("elapsed_seconds") or 0)


def _version(m: Mapping[str, Any]) -> VersionEvent:
    binary = _text(m.get("terraform")) or _text(m.get("tofu"))
    return VersionEvent(terraform=binary, ui=_text(m.get("ui")))


def _log(m: Mapping[str, Any]) -> LogEvent:
    return LogEvent(_text(m.get("@message")), level=_text(m.get("@level")) or "info")


def _diagnostic(m: Mapping[str, Any]) -> Diagnostic:
    return parse_diagnostic(m["diagnostic"])


def _planned_change(m: Mapping[str, Any]) -> PlannedChange:
    change = m["change"]
    return PlannedChange(_addr(change), str(change["action"]), _opt(change.get("reason")))


def _resource_drift(m: Mapping[str, Any]) -> ResourceDrift:
    change = m["change"]
    return ResourceDrift(_addr(change), str(change["action"]))


def _change_summary(m: Mapping[str, Any]) -> ChangeSummary:
    c = m["changes"]
    return ChangeSummary(
        add=int(c.get("add", 0)),
        change=int(c.get("change", 0)),
        remove=int(c.get("remove", 0)),
        imported=int(c.get("import", 0)),
        operation=_text(c.get("operation")) or "plan",
    )


def _apply_start(m: Mapping[str, Any]) -> ApplyStart:
    hook = m["hook"]
    return ApplyStart(_addr(hook), str(hook["action"]), _opt(hook.get("id_value")))


def _apply_progress(m: Mapping[str, Any]) -> ApplyProgress:
    hook = m["hook"]
    return ApplyProgress(_addr(hook), str(hook["action"]), _seconds(hook))


def _apply_complete(m: Mapping[str, Any]) -> ApplyComplete:
    hook = m["hook"]
    return ApplyComplete(_addr(hook), str(hook["action"]), _seconds(hook), _opt(hook.get("id_value")))


def _apply_errored(m: Mapping[str, Any]) -> ApplyErrored:
    hook = m["hook"]
    return ApplyErrored(_addr(hook), str(hook["action"]), _seconds(hook))


def _refresh_start(m: Mapping[str, Any]) -> RefreshStart:
    hook = m["hook"]
    return RefreshStart(_addr(hook), _opt(hook.get("id_value")))


def _refresh_complete(m: Mapping[str, Any]) -> RefreshComplete:
    hook = m["hook"]
    return RefreshComplete(_addr(hook), _opt(hook.get("id_value")))


def _provision(phase: Literal["start", "progress", "complete", "errored"]):
    def parse(m: Mapping[str, Any]) -> ProvisionEvent:
        hook = m["hook"]
        return ProvisionEvent(_addr(hook), _text(hook.get("provisioner")), phase, _text(hook.get("output")))

    return parse


def _outputs(m: Mapping[str, Any]) -> OutputsEvent:
    outputs = m["outputs"]
    return OutputsEvent(
        tuple(
            OutputChange(name, bool(o.get("sensitive")), _opt(o.get("action")))
            for name, o in sorted(outputs.items())
        )
    )


_PARSERS = {
    "version": _version,
    "log": _log,
    "init_output": _log,
    "diagnostic": _diagnostic,
    "planned_change": _planned_change,
    "resource_drift": _resource_drift,
    "change_summary": _change_summary,
    "apply_start": _apply_start,
    "apply_progress": _apply_progress,
    "apply_complete": _apply_complete,
    "apply_errored": _apply_errored,
    "refresh_start": _refresh_start,
    "refresh_complete": _refresh_complete,
    "provision_start": _provision("start"),
    "provision_progress": _provision("progress"),
    "provision_complete": _provision("complete"),
    "provision_errored": _provision("errored"),
    "outputs": _outputs,
}

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
