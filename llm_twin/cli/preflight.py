"""`llm-twin preflight`, and the gate `apply` runs through on the aws target.

The lookups and checks are `llm_twin.control.preflight`'s; this module prints the table.
"""

from __future__ import annotations

import dataclasses
import json
import os

import click

from llm_twin.cli import context
from llm_twin.cli.context import READ_ONLY_INTERRUPTED, interrupts
from llm_twin.control.deploy.stacks import Stacks
from llm_twin.control.preflight.checks import PreflightReport
from llm_twin.control.preflight.lookups import DEFAULT_HUB_URL
from llm_twin.control.preflight.run import run_preflight
from llm_twin.errors import PreflightFailedError

STATUS_MARK = {"OK": "OK  ", "WARN": "WARN", "FAIL": "FAIL", "SKIP": "SKIP"}


def render_report(report: PreflightReport, heading: str) -> list[str]:
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


def _report(stacks: Stacks, as_admin: bool) -> PreflightReport:
    # HF_ENDPOINT is the hub's own variable (a mirror), read where the lookup is made.
    return run_preflight(stacks, as_admin=as_admin, hub_url=os.environ.get("HF_ENDPOINT") or DEFAULT_HUB_URL)


def _heading(stacks: Stacks) -> str:
    s = stacks.settings
    return f"preflight for {s.names.endpoint} on {s.variant.instance_type} in {s.region} (TARGET={s.target})"


def _raise_if_failed(report: PreflightReport) -> None:
    failed = [c.name for c in report.checks if c.status == "FAIL"]
    if failed:
        raise PreflightFailedError(
            f"{', '.join(failed)} failed: fix them (see each 'fix:' above), or pass --skip-preflight to apply anyway"
        )


def preflight_before_apply(stacks: Stacks, *, as_admin: bool, skip: bool) -> None:
    """On the aws target: print the table; any FAIL stops before Terraform runs, WARN goes on."""
    if skip or stacks.settings.target != "aws":
        return
    report = _report(stacks, as_admin)
    for line in render_report(report, _heading(stacks)):
        click.echo(line)
    _raise_if_failed(report)


@click.command("preflight")
@click.option("--as-admin", is_flag=True, help="Look up as the admin identity, not the deployer's.")
@click.option("--json", "json_output", is_flag=True, help="Print the checks as a JSON list.")
@click.pass_context
@interrupts(READ_ONLY_INTERRUPTED)
def preflight_command(ctx: click.Context, as_admin: bool, json_output: bool) -> None:
    """Check quota, GPU fit, token limits, SM_NUM_GPUS, gated model, image and timeouts.

    Exit 1 when a check FAILs; WARN and SKIP do not stop anything.
    """
    deployment = context.deployment(context.settings(ctx))
    report = _report(deployment, as_admin)
    if json_output:
        click.echo(json.dumps([dataclasses.asdict(c) for c in report.checks], indent=2))
    else:
        for line in render_report(report, _heading(deployment)):
            click.echo(line)
    _raise_if_failed(report)
