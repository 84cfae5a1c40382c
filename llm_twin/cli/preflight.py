"""`llm-twin preflight`, and the gate `apply` runs through on the aws target."""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

import click

from llm_twin.control.aws import AwsClients
from llm_twin.control.credentials import read_credentials
from llm_twin.control.preflight import checks as preflight
from llm_twin.control.preflight.lookups import DEFAULT_HUB_URL, gather
from llm_twin.errors import PreflightFailedError

STATUS_MARK = {"OK": "OK  ", "WARN": "WARN", "FAIL": "FAIL", "SKIP": "SKIP"}


def render_report(report: preflight.PreflightReport, heading: str) -> list[str]:
    """The table: one row per check, the fix indented under every WARN and FAIL."""
    width = max(len(c.name) for c in report.checks)
    lines = [heading]
    for check in report.checks:
        lines.append(f"  {STATUS_MARK[check.status]}  {check.name:<{width}}  {check.detail}")
        if check.fix and check.status in ("WARN", "FAIL"):
            lines.append(f"  {'':4}  {'':<{width}}  fix: {check.fix}")
    failed = [c.name for c in report.checks if c.status == "FAIL"]
    warned = [c.name for c in report.checks if c.status == "WARN"]
    lines.append(
        f"preflight: {len(failed)} failed, {len(warned)} warning(s)"
        + (f" ({', '.join(failed)} failed)" if failed else "")
    )
    return lines


def _clients(deployment: Any, as_admin: bool) -> AwsClients:
    """The identity `apply` would run as: the deployer once bootstrapped, else the admin."""
    if as_admin or not deployment.credentials_path.is_file():
        return deployment.clients(deployment.admin_credentials())
    credentials, _ = read_credentials(deployment.credentials_path)
    return deployment.clients(credentials)


def run_preflight(deployment: Any, *, as_admin: bool = False) -> preflight.PreflightReport:
    """Every lookup, then every check; on the local target the emulator is started first."""
    deployment.ensure_local()
    hub_url = os.environ.get("HF_ENDPOINT") or DEFAULT_HUB_URL
    inputs = gather(deployment.settings, _clients(deployment, as_admin), hub_url=hub_url)
    return preflight.run_checks(inputs)


def _heading(deployment: Any) -> str:
    s = deployment.settings
    return f"preflight for {s.names.endpoint} on {s.variant.instance_type} in {s.region} (TARGET={s.target})"


def _raise_if_failed(report: preflight.PreflightReport) -> None:
    failed = [c.name for c in report.checks if c.status == "FAIL"]
    if failed:
        raise PreflightFailedError(
            f"{', '.join(failed)} failed: fix them (see each 'fix:' above), or pass --skip-preflight to apply anyway"
        )


def preflight_before_apply(deployment: Any, *, as_admin: bool, skip: bool) -> None:
    """On the aws target: print the table; any FAIL stops before Terraform runs, WARN goes on."""
    if skip or deployment.settings.target != "aws":
        return
    report = run_preflight(deployment, as_admin=as_admin)
    for line in render_report(report, _heading(deployment)):
        click.echo(line)
    _raise_if_failed(report)


def _preflight(ctx: click.Context, as_admin: bool, json_output: bool) -> None:
    from llm_twin.cli.main import _deployment

    deployment = _deployment(ctx)
    report = run_preflight(deployment, as_admin=as_admin)
    if json_output:
        click.echo(json.dumps([dataclasses.asdict(c) for c in report.checks], indent=2))
    else:
        for line in render_report(report, _heading(deployment)):
            click.echo(line)
    _raise_if_failed(report)


@click.command("preflight")
@click.option("--as-admin", is_flag=True, help="Look up as the admin identity, not the deployer's.")
@click.option("--json", "json_output", is_flag=True, help="Print the checks as a JSON list.")
@click.pass_context
def preflight_command(ctx: click.Context, as_admin: bool, json_output: bool) -> None:
    """Check quota, GPU fit, token limits, SM_NUM_GPUS, gated model, image and timeouts.

    Exit 1 when a check FAILs; WARN and SKIP do not stop anything.
    """
    from llm_twin.cli.main import handle_errors  # cli.py imports this module while it is built

    handle_errors(_preflight)(ctx, as_admin, json_output)
