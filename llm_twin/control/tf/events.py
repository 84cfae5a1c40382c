"""Terraform's machine-readable UI (`-json`), parsed into typed events.

Pure: no subprocesses, no printing. The runner feeds the bytes of a running command
through `LineBuffer` and `parse_line`; the events are the types of
`llm_twin.control.tf.messages`, and the CLI prints `llm_twin.control.tf.display.render(event)`.

Minor versions of the format may add types and properties, so unknown types and unknown
properties are ignored. A line that is not JSON at all (a provider writing to stdout, an
old binary) becomes a plain `LogEvent`, so the parser never raises on what terraform prints.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Literal

from llm_twin.control.tf.messages import (
    ApplyComplete,
    ApplyErrored,
    ApplyProgress,
    ApplyStart,
    ChangeSummary,
    Diagnostic,
    LogEvent,
    OutputChange,
    OutputsEvent,
    PlannedChange,
    ProgressEvent,
    ProvisionEvent,
    RefreshComplete,
    RefreshStart,
    ResourceDrift,
    VersionEvent,
)
from llm_twin.protocol.lines import LineSplitter

__all__ = ["LineBuffer", "first_error", "parse_diagnostic", "parse_line", "parse_stream"]


class LineBuffer:
    """Bytes in, complete text lines out, for a stream read in arbitrary chunks.

    The shared splitter (`llm_twin.protocol.lines`) cuts the bytes; each whole line is then
    decoded, so a UTF-8 sequence split between chunks is whole again. Unbounded: terraform is
    our own child. `flush()` returns the last line even when the stream did not end with a newline.
    """

    def __init__(self) -> None:
        self._lines = LineSplitter(max_line_bytes=None)

    def feed(self, chunk: bytes) -> list[str]:
        """Add bytes; return the lines they completed, without line endings."""
        return [line.decode("utf-8", errors="replace") for line in self._lines.feed(chunk)]

    def flush(self) -> list[str]:
        """End of stream: return the unterminated last line, if any."""
        return [line.decode("utf-8", errors="replace") for line in self._lines.flush()]


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
    severity: Literal["error", "warning"] = "warning" if raw.get("severity") == "warning" else "error"
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


def _provision(
    phase: Literal["start", "progress", "complete", "errored"],
) -> Callable[[Mapping[str, Any]], ProvisionEvent]:
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


_PARSERS: dict[str, Callable[[Mapping[str, Any]], ProgressEvent]] = {
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
