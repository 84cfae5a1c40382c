"""The cost gate `apply` passes on the aws target: the budget, then a person's yes.

The local target costs nothing, so it has no gate. On aws an estimate above
COST_MONTHLY_BUDGET_USD is refused even with --yes (the budget is the hard line);
below it, --yes stands for the answer, a terminal is asked, and without either the
apply is refused rather than guessed. Asking and printing are the CLI's.
"""

from __future__ import annotations

from typing import Literal

from llm_twin.config import Settings
from llm_twin.control.cost.estimate import CostEstimate, over_budget
from llm_twin.errors import BudgetExceededError, ConfirmationRequiredError

__all__ = ["Confirmation", "check_apply_cost", "declined", "gated"]

Confirmation = Literal["given", "ask"]
"""`given`: --yes stands for it; `ask`: a person at the terminal answers."""


def gated(settings: Settings) -> bool:
    """True when an apply with these settings spends money, so the estimate and the gate apply."""
    return settings.target == "aws"


def check_apply_cost(
    settings: Settings, estimate: CostEstimate, *, yes: bool, interactive: bool
) -> Confirmation:
    """Whether the apply may go on as is (`given`) or a person must be asked (`ask`).

    BudgetExceededError above the budget, whatever `yes` says; ConfirmationRequiredError
    without --yes and without a terminal to ask on.
    """
    if over_budget(settings, estimate):
        raise BudgetExceededError(
            f"the estimate ${estimate.monthly_usd:.2f}/month is above COST_MONTHLY_BUDGET_USD="
            f"{settings.cost.monthly_budget:g}: lower AUTOSCALING_MAX_CAPACITY or the instance type, "
            "or raise the budget"
        )
    if yes:
        return "given"
    if not interactive:
        raise ConfirmationRequiredError(
            "apply on TARGET=aws needs a confirmation of the cost above: pass --yes when there is "
            "no terminal to ask on"
        )
    return "ask"


def declined() -> ConfirmationRequiredError:
    """The error for a person's no: nothing was applied."""
    return ConfirmationRequiredError("apply cancelled at the cost confirmation: nothing was changed")
