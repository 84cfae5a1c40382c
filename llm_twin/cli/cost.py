"""`llm-twin cost`, and the cost confirmation `apply` asks for on the aws target."""

from __future__ import annotations

import dataclasses
import json
import sys
from typing import Any

import click

from llm_twin.control.cost import estimate as cost
from llm_twin.errors import BudgetExceededError, ConfirmationRequiredError


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


def confirm_apply_cost(deployment: Any, *, yes: bool) -> None:
    """On the aws target: print the estimate, enforce the budget, and ask before spending.

    `--yes` skips the question; without a terminal to ask on, refuse rather than guess.
    The local target costs nothing, so nothing is asked there.
    """
    settings = deployment.settings
    if settings.target != "aws":
        return
    estimate = deployment.cost_estimate()
    for line in render_estimate(estimate, settings.names.endpoint):
        click.echo(line)
    if cost.over_budget(settings, estimate):
        raise BudgetExceededError(
            f"the estimate ${estimate.monthly_usd:.2f}/month is above COST_MONTHLY_BUDGET_USD="
            f"{settings.cost.monthly_budget:g}: lower AUTOSCALING_MAX_CAPACITY or the instance type, "
            "or raise the budget"
        )
    if yes:
        return
    if not _interactive():
        raise ConfirmationRequiredError(
            "apply on TARGET=aws needs a confirmation of the cost above: pass --yes when there is "
            "no terminal to ask on"
        )
    if not click.confirm(f"apply for up to ${estimate.hourly_usd:.2f}/h?", default=False):
        raise ConfirmationRequiredError("apply cancelled at the cost confirmation: nothing was changed")


def _estimate(ctx: click.Context) -> tuple[Any, cost.CostEstimate]:
    from llm_twin.cli.main import _deployment

    deployment = _deployment(ctx, terraform=False)  # an estimate runs no terraform
    return deployment, deployment.cost_estimate()


@click.command("cost")
@click.option("--json", "json_output", is_flag=True, help="Print the estimate as one JSON object.")
@click.pass_context
def cost_command(ctx: click.Context, json_output: bool) -> None:
    """Estimate the stack's hourly and monthly cost (USD) at its largest configured size."""
    from llm_twin.cli.main import handle_errors  # cli.py imports this module while it is built

    deployment, estimate = handle_errors(_estimate)(ctx)
    if json_output:
        click.echo(json.dumps(as_json(estimate), indent=2))
        return
    for line in render_estimate(estimate, deployment.settings.names.endpoint):
        click.echo(line)
    if cost.over_budget(deployment.settings, estimate):
        click.echo(
            f"over budget: COST_MONTHLY_BUDGET_USD={deployment.settings.cost.monthly_budget:g}; "
            "`apply` on aws will refuse",
            err=True,
        )
