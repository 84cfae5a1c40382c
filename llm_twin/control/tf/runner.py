"""Run the terraform binary: the transport layer between llm-twin and Terraform.

`Terraform(config, on_event=...)` runs one root module. Long commands (init,
plan, apply, destroy) run with `-json`; their stdout is parsed line by line as it
arrives and each event is handed to `on_event` (only the CLI prints). Short
commands (validate, output, show, state list, fmt) return typed results.

Any exit code the caller did not ask for raises `TerraformError`, whose message
names the command, the exit code and terraform's first error, and which keeps
stderr.

Ctrl-C: terraform runs in its own session, so a terminal's SIGINT reaches only
Python. The runner then forwards exactly one SIGINT (a second one makes terraform
abort without saving state), waits for terraform to save state and release the
lock, and re-raises `KeyboardInterrupt`.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from llm_twin.control.tf.events import parse_diagnostic
from llm_twin.control.tf.failures import terraform_error
from llm_twin.control.tf.messages import ChangeSummary, Diagnostic, OutputsEvent, PlannedChange, ProgressEvent
from llm_twin.control.tf.process import EventCallback, Run, StdoutReader, drain, sigint_ignored
from llm_twin.control.tf.results import ApplyResult, OutputValue, PlanResult, ValidateResult
from llm_twin.errors import TerraformError

Event = TypeVar("Event", bound=ProgressEvent)

__all__ = [
    "ApplyResult",
    "OutputValue",
    "PlanResult",
    "Terraform",
    "TerraformConfig",
    "ValidateResult",
]

_STDERR_JOIN_SECONDS = 10.0
PRIVATE_UMASK = 0o077
"""The terraform child's umask: state, backup and plan files come out 0600."""
_LOG_SWITCHES = ("TF_LOG", "TF_LOG_PROVIDER", "TF_LOG_CORE")


@dataclass(frozen=True, kw_only=True)
class TerraformConfig:
    """Where and how to run terraform for one root module."""

    binary: str = "terraform"
    """Executable name or path; "tofu" or a wrapper script works too."""
    working_dir: Path
    """The root module, passed as `-chdir`."""
    data_dir: Path
    """Exported as TF_DATA_DIR, so each target and stack keeps its own `.terraform`."""
    plugin_dir: Path | None = None
    """A provider mirror for `init -plugin-dir` (disables registry downloads)."""
    plugin_cache_dir: Path | None = None
    """Exported as TF_PLUGIN_CACHE_DIR; with `plugin_dir`, providers are symlinked, not copied."""
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    """Extra environment (credentials, TF_VAR_*, AWS_ENDPOINT_URL...). Never logged or shown."""


# The flag table: keyword argument -> terraform flag. Booleans add the bare flag
# when true, paths and strings become `-flag=value`, mappings repeat `-flag=k=v`.
_FLAGS = {
    "auto_approve": "-auto-approve",
    "backend_config": "-backend-config",
    "check": "-check",
    "destroy": "-destroy",
    "detailed_exitcode": "-detailed-exitcode",
    "list": "-list",
    "out": "-out",
    "plugin_dir": "-plugin-dir",
    "reconfigure": "-reconfigure",
    "recursive": "-recursive",
    "replace": "-replace",
    "var_file": "-var-file",
}

# Which of the always-on flags each subcommand accepts (`-input` is rejected by
# validate, output, show, state and fmt).
_STANDARD_FLAGS = {
    "init": ("-input=false", "-no-color", "-json"),
    "plan": ("-input=false", "-no-color", "-json"),
    "apply": ("-input=false", "-no-color", "-json"),
    "validate": ("-no-color", "-json"),
    "output": ("-no-color", "-json"),
    "show": ("-no-color", "-json"),
    "state list": ("-no-color",),
    "fmt": ("-no-color",),
}


def _flags(**options: object) -> list[str]:
    """Keyword arguments → terraform flags, through `_FLAGS`; None and False add nothing."""
    args: list[str] = []
    for name, value in options.items():
        flag = _FLAGS[name]
        if value is None or value is False:
            continue
        if value is True:
            args.append(flag)
        elif isinstance(value, Mapping):
            args.extend(f"{flag}={key}={item}" for key, item in value.items())
        elif isinstance(value, list | tuple):
            args.extend(f"{flag}={item}" for item in value)
        elif isinstance(value, Path):
            args.append(f"{flag}={value.resolve()}")
        else:
            args.append(f"{flag}={value}")
    return args


class Terraform:
    """Runs terraform commands on one root module; see the module docstring."""

    def __init__(self, config: TerraformConfig, *, on_event: EventCallback | None = None) -> None:
        self.config = config
        self._on_event = on_event

    # -- commands -----------------------------------------------------------

    def init(self, backend_config: Mapping[str, str] | Path | None = None, reconfigure: bool = False) -> None:
        """`terraform init`, from `plugin_dir` when configured; events stream to `on_event`."""
        plugin_dir = self.config.plugin_dir
        args = _flags(
            backend_config=backend_config,
            reconfigure=reconfigure,
            plugin_dir=Path(plugin_dir) if plugin_dir is not None else None,
        )
        self._run("init", args, stream=True)

    def validate(self) -> ValidateResult:
        """`terraform validate -json`; an invalid configuration is a result, not an error."""
        run = self._run("validate", [], ok_codes=(0, 1), stream=False)
        report = self._json(run, "validate")
        if not isinstance(report, dict) or "valid" not in report:
            raise self._error("validate", run)
        diagnostics = tuple(parse_diagnostic(d) for d in report.get("diagnostics") or ())
        return ValidateResult(valid=bool(report["valid"]), diagnostics=diagnostics)

    def plan(
        self,
        *,
        var_file: Path | None = None,
        out: Path | None = None,
        destroy: bool = False,
        detailed_exitcode: bool = False,
        replace: Sequence[str] = (),
    ) -> PlanResult:
        """`terraform plan`; with `detailed_exitcode`, exit 2 (changes) is success too."""
        out_path = Path(out).resolve() if out is not None else None
        args = _flags(
            var_file=_path(var_file),
            out=out_path,
            destroy=destroy,
            detailed_exitcode=detailed_exitcode,
            replace=tuple(replace),
        )
        run = self._run("plan", args, ok_codes=(0, 2) if detailed_exitcode else (0,), stream=True)
        summary = _last(run.events, ChangeSummary)
        if detailed_exitcode:
            changes = run.returncode == 2
        else:
            outputs = _last(run.events, OutputsEvent)
            output_changes = outputs is not None and any(
                o.action not in (None, "noop") for o in outputs.outputs
            )
            changes = (summary is not None and summary.total > 0) or output_changes
        return PlanResult(
            changes=changes,
            summary=summary,
            planned_changes=tuple(e for e in run.events if isinstance(e, PlannedChange)),
            diagnostics=_diagnostics(run.events),
            plan_file=out_path,
        )

    def apply(self, plan_file: Path) -> ApplyResult:
        """`terraform apply <plan_file>`: applies exactly what was planned, without a prompt."""
        run = self._run("apply", [str(Path(plan_file).resolve())], stream=True)
        return ApplyResult(summary=_last(run.events, ChangeSummary), diagnostics=_diagnostics(run.events))

    def destroy(self, *, var_file: Path | None = None) -> ApplyResult:
        """`terraform apply -destroy -auto-approve` (the long-removed `-force` is never used)."""
        args = _flags(destroy=True, auto_approve=True, var_file=_path(var_file))
        run = self._run("apply", args, stream=True)
        return ApplyResult(summary=_last(run.events, ChangeSummary), diagnostics=_diagnostics(run.events))

    def output(self) -> dict[str, OutputValue]:
        """`terraform output -json`, typed; empty when nothing was applied yet."""
        run = self._run("output", [], stream=False)
        raw = self._json(run, "output")
        if not isinstance(raw, dict):
            raise self._error("output", run)
        return {
            name: OutputValue(value=o.get("value"), type=o.get("type"), sensitive=bool(o.get("sensitive")))
            for name, o in raw.items()
        }

    def show_json(self, plan_file: Path | None = None) -> dict[str, Any]:
        """`terraform show -json [plan_file]`: the state, or a saved plan, as a dict."""
        args = [str(Path(plan_file).resolve())] if plan_file is not None else []
        run = self._run("show", args, stream=False)
        shown = self._json(run, "show")
        if not isinstance(shown, dict):
            raise self._error("show", run)
        return shown

    def state_list(self) -> list[str]:
        """`terraform state list`: resource addresses in the state (raises when there is no state)."""
        run = self._run("state list", [], stream=False)
        return [line.strip() for line in run.stdout.splitlines() if line.strip()]

    def fmt_check(self, recursive: bool = True) -> list[str]:
        """`terraform fmt -check`: the files that need formatting, relative to the root module."""
        args = _flags(check=True, recursive=recursive)
        run = self._run("fmt", args, ok_codes=(0, 3), stream=False)
        return [line.strip() for line in run.stdout.splitlines() if line.strip()]

    # -- transport ----------------------------------------------------------

    def _command(self, subcommand: str, args: Sequence[str]) -> list[str]:
        chdir = f"-chdir={Path(self.config.working_dir).resolve()}"
        return [
            self.config.binary,
            chdir,
            *subcommand.split(),
            *_STANDARD_FLAGS[subcommand],
            *args,
        ]

    def _environment(self) -> dict[str, str]:
        """The child's environment, read now (never at import time)."""
        env = {**os.environ, **self.config.env}
        data_dir = Path(self.config.data_dir).resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        env["TF_DATA_DIR"] = str(data_dir)
        env["TF_IN_AUTOMATION"] = "1"
        env["TF_INPUT"] = "0"
        if self.config.plugin_cache_dir is not None:
            cache = Path(self.config.plugin_cache_dir).resolve()
            cache.mkdir(parents=True, exist_ok=True)
            env["TF_PLUGIN_CACHE_DIR"] = str(cache)
        configured = env.get("TF_CLI_CONFIG_FILE")
        if configured and not Path(configured).expanduser().exists():
            # A dangling setting only makes terraform warn on every run; an existing
            # file is the user's real configuration and is left alone.
            empty = data_dir / "empty.tfrc"
            empty.touch()
            env["TF_CLI_CONFIG_FILE"] = str(empty)
        if any(env.get(name) for name in _LOG_SWITCHES):
            # Providers log request and response bodies at DEBUG (a model's HF_TOKEN included);
            # terraform's own log is kept, the providers' is switched off.
            for name in [n for n in env if n.startswith(("TF_LOG_PROVIDER", "TF_LOG_SDK"))]:
                del env[name]
            env["TF_LOG_PROVIDER"] = "off"
        return env

    def _run(
        self,
        subcommand: str,
        args: Sequence[str],
        *,
        stream: bool,
        ok_codes: Iterable[int] = (0,),
    ) -> Run:
        """Run one command; parse stdout into events live when `stream`; raise on other codes."""
        command = self._command(subcommand, args)
        try:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=self._environment(),
                start_new_session=True,
                # State, backups and plans hold every secret the stack knows (the HF token,
                # the deployer's key): whatever terraform creates is owner-only.
                umask=PRIVATE_UMASK,
            )
        except OSError as exc:
            raise TerraformError(
                f"{self._name(subcommand)} could not start {self.config.binary!r}: {exc.strerror or exc}"
            ) from exc

        stderr_chunks: list[bytes] = []
        stderr_reader = threading.Thread(
            target=drain, args=(process.stderr, stderr_chunks.append), daemon=True
        )
        stderr_reader.start()
        reader = StdoutReader(process.stdout, parse=stream, on_event=self._on_event)
        try:
            try:
                reader.read_all()
                returncode = process.wait()
            except KeyboardInterrupt:
                self._stop(process, reader, deliver=True)
                raise
            except BaseException:
                self._stop(process, reader, deliver=False)
                raise
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            # A grandchild that inherited stderr may outlive terraform; don't hang on it.
            stderr_reader.join(timeout=_STDERR_JOIN_SECONDS)
            for pipe in (process.stdout, process.stderr):
                if pipe is not None:
                    pipe.close()

        run = Run(
            returncode=returncode,
            stdout=reader.text(),
            stderr=b"".join(stderr_chunks).decode("utf-8", errors="replace"),
            events=reader.events,
        )
        if returncode not in tuple(ok_codes):
            raise self._error(subcommand, run)
        return run

    def _stop(self, process: subprocess.Popen[bytes], reader: StdoutReader, *, deliver: bool) -> None:
        """Forward one SIGINT and wait for terraform to save its state and exit.

        Further Ctrl-Cs are ignored while waiting: a second SIGINT makes terraform
        abandon its state, and killing it would do the same.
        """
        reader.on_event = self._on_event if deliver else None
        with sigint_ignored():
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGINT)
            try:
                reader.read_all()
            except Exception:
                # The callback failed; terraform must still be drained to exit cleanly.
                reader.on_event = None
                reader.read_all()
            process.wait()

    # -- errors -------------------------------------------------------------

    def _name(self, subcommand: str) -> str:
        return f"{Path(self.config.binary).name} {subcommand}"

    def _json(self, run: Run, subcommand: str) -> Any:
        try:
            return json.loads(run.stdout)
        except ValueError as exc:
            reason = None if run.returncode else "printed output that is not JSON"
            raise self._error(subcommand, run, reason=reason) from exc

    def _error(self, subcommand: str, run: Run, *, reason: str | None = None) -> TerraformError:
        return terraform_error(self._name(subcommand), run, reason=reason)


def _path(value: Path | str | None) -> Path | None:
    return Path(value) if value is not None else None


def _last(events: Iterable[ProgressEvent], kind: type[Event]) -> Event | None:
    found: Event | None = None
    for event in events:
        if isinstance(event, kind):
            found = event
    return found


def _diagnostics(events: Iterable[ProgressEvent]) -> tuple[Diagnostic, ...]:
    return tuple(e for e in events if isinstance(e, Diagnostic))
