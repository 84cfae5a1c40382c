"""A failed terraform command as one `TerraformError`: the command, its exit, terraform's first error.

The first error comes from the `-json` diagnostics when there are some, else from the
human error block on stderr. Callers classify a failure by the diagnostic's summary
(`TerraformError.summary`, terraform's closest thing to an error code), never by the
message text: `rejects_a_variable` is the one such question asked today.
"""

from __future__ import annotations

import json
import re
import signal

from llm_twin.control.tf.events import first_error, parse_diagnostic
from llm_twin.control.tf.messages import Diagnostic
from llm_twin.control.tf.process import Run
from llm_twin.errors import StateLockedError, TerraformError

_MAX_DETAIL = 400
_BOX_PREFIX = re.compile(r"^[\u2502\u2577\u2575] ?")
_LOCK_INFO = re.compile(r"^\s*(ID|Who|Operation|Created):\s*(.*?)\s*$", re.MULTILINE)
LOCK_SUMMARY = "Error acquiring the state lock"
VARIABLE_REJECTED = frozenset({"Invalid value for variable", "Invalid value for input variable"})
"""Summaries of the diagnostics for a variable terraform refused: a validation block's
condition failed, or the value does not convert to the variable's type."""


def rejects_a_variable(error: TerraformError) -> bool:
    """True when terraform refused an input variable's value (a usage error, not a failure)."""
    return error.summary in VARIABLE_REJECTED


def terraform_error(command: str, run: Run, *, reason: str | None = None) -> TerraformError:
    """One line: command, exit code, first error (from the diagnostics, else stderr)."""
    code = run.returncode
    if code < 0:
        try:
            status = f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            status = f"was killed by signal {-code}"
    else:
        status = f"exited with code {code}"
    diagnostic = _first_diagnostic(run)
    summary = diagnostic.summary if diagnostic is not None else None
    locked = _lock_holder(run)
    if locked is not None:
        return StateLockedError(
            f"{command} {status}: the state is locked by another run ({locked}); "
            "wait for it to finish, or if it died, run `terraform force-unlock <ID>` on this stack",
            returncode=code,
            stderr=run.stderr,
            summary=summary,
        )
    cause = reason or _first_error_text(run, diagnostic)
    message = f"{command} {status}" + (f": {cause}" if cause else "")
    return TerraformError(message, returncode=code, stderr=run.stderr, summary=summary)


def _first_diagnostic(run: Run) -> Diagnostic | None:
    """The first error diagnostic: from the streamed events, or from one `-json` document."""
    diagnostic = first_error(run.events)
    if diagnostic is None and run.stdout.lstrip().startswith("{"):
        diagnostic = _first_json_diagnostic(run.stdout)
    return diagnostic


def _lock_holder(run: Run) -> str | None:
    """Who holds the lock, from terraform's "Error acquiring the state lock"; None for other errors."""
    diagnostic = first_error(run.events)
    if diagnostic is not None and diagnostic.summary == LOCK_SUMMARY:
        text = diagnostic.detail
    elif LOCK_SUMMARY in run.stderr:
        text = run.stderr
    else:
        return None
    info = {name: value for name, value in _LOCK_INFO.findall(text) if value}
    labels = (("Who", "held by"), ("Operation", "for"), ("Created", "since"), ("ID", "lock ID"))
    return ", ".join(f"{label} {info[key]}" for key, label in labels if key in info) or "holder unknown"


def _first_error_text(run: Run, diagnostic: Diagnostic | None) -> str:
    if diagnostic is not None:
        text = diagnostic.summary
        if diagnostic.detail.strip():
            text += f": {diagnostic.detail}"
        return _clip(" ".join(text.split()))
    return _clip(_stderr_error(run.stderr))


def _first_json_diagnostic(stdout: str) -> Diagnostic | None:
    """`validate -json` and friends print one document with a `diagnostics` list."""
    try:
        document = json.loads(stdout)
    except ValueError:
        return None
    raw = document.get("diagnostics") if isinstance(document, dict) else None
    for item in raw or ():
        if isinstance(item, dict) and item.get("severity") == "error":
            return parse_diagnostic(item)
    return None


def _stderr_error(stderr: str) -> str:
    """Terraform's human error block → "summary: detail"; else the last stderr lines."""
    lines = [_BOX_PREFIX.sub("", line.rstrip()) for line in stderr.splitlines()]
    for index, line in enumerate(lines):
        if line.startswith("Error: "):
            summary = line.removeprefix("Error: ").strip()
            return f"{summary}: {detail}" if (detail := _detail_paragraph(lines[index + 1 :])) else summary
    tail = [line for line in lines if line.strip()][-3:]
    return " ".join(" ".join(tail).split())


def _detail_paragraph(lines: list[str]) -> str:
    """The first unindented paragraph after a summary; indented ones are source snippets."""
    paragraph: list[str] = []
    for line in [*lines, ""]:
        if line.startswith(("Error: ", "Warning: ")):
            break
        if line.strip():
            paragraph.append(line)
            continue
        if paragraph and not paragraph[0].startswith(" "):
            return " ".join(" ".join(paragraph).split())
        paragraph = []
    return ""


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 3] + "..."
