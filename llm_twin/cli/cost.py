"""`llm-twin cost`, and the cost confirmation `apply` asks for on the aws target.

The rules (the budget, when to ask) are `llm_twin.control.cost.budget`'s; this module
prints the estimate and asks the question.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from typing import Any

import click

from llm_twin.cli import context
from llm_twin.cli.context import READ_ONLY_INTERRUPTED, interrupts
from llm_twin.control.cost import budget
from llm_twin.control.cost import estimate as cost
from llm_twin.control.deploy.deployment import Deployment


def render_estimate(estimate: cost.CostEstimate, endpoint: str) -> list[str]:
    """The estimate as aligned lines: one per billed item, a total, where prices came from."""
    lines = [
        f"cost estimate for {endpoint} in {estimate.region} "
        f"(worst case: every instance the settings allow, {estimate.hours_per_month} h/month)"
    ]
    for line in estimate.lines:
        lines.append(
            f"  {line.item:<10} ${line.hourly_usd:>9.4f}/h  ${line.monthly_usd:>10.2f}/month   {line.detail}"
        )
    lines.append(f"  {'total':<10} ${estimate.hourly_usd:>9.4f}/h  ${estimate.monthly_usd:>10.2f}/month")
    lines.append(f"prices: {estimate.source}")
    lines.append(f"image:  {estimate.backend} ({estimate.image})")
    lines.extend(f"note: {note}" for note in estimate.notes)
    return lines


def as_json(estimate: cost.CostEstimate) -> dict[str, Any]:
    data = dataclasses.asdict(estimate)
    data["hourly_usd"] = round(estimate.hourly_usd, 6)
    data["monthly_usd"] = round(estimate.monthly_usd, 2)
    return data


def _interactive() -> bool:
    """True when a person can answer the question on stdin."""
    return sys.stdin.isatty()


def confirm_apply_cost(deployment: Deployment, *, yes: bool) -> None:
    """On the aws target: print the estimate, then pass the budget and ask before spending."""
    settings = deployment.settings
    if not budget.gated(settings):
        return
    estimate = deployment.cost_estimate()
    for line in render_estimate(estimate, settings.names.endpoint):
        click.echo(line)
    confirmation = budget.check_apply_cost(settings, estimate, yes=yes, interactive=_interactive())
    if confirmation == "ask" and not click.confirm(
        f"apply for up to ${estimate.hourly_usd:.2f}/h?", default=False
    ):
        raise budget.declined()


@click.command("cost")
@click.option("--json", "json_output", is_flag=True, help="Print the estimate as one JSON object.")
@click.pass_context
@interrupts(READ_ONLY_INTERRUPTED)
def cost_command(ctx: click.Context, json_output: bool) -> None:
    """Estimate the stack's hourly and monthly cost (USD) at its largest configured size."""
    settings = context.settings(ctx)
    estimate = context.deployment(settings, terraform=False).cost_estimate()  # an estimate runs no terraform
    if json_output:
        click.echo(json.dumps(as_json(estimate), indent=2))
        return
    for line in render_estimate(estimate, settings.names.endpoint):
        click.echo(line)
    if cost.over_budget(settings, estimate):
        click.echo(
            f"over budget: COST_MONTHLY_BUDGET_USD={settings.cost.monthly_budget:g}; `apply` on aws will refuse",
            err=True,
        )
