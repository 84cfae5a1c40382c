"""The cost gate of `apply` on aws: the budget is a hard line, then --yes, a terminal, or a refusal."""

from __future__ import annotations

import pytest

from llm_twin.config import build_settings
from llm_twin.control.cost import budget
from llm_twin.control.cost.estimate import CostEstimate, CostLine
from llm_twin.errors import BudgetExceededError, ConfirmationRequiredError
from tests.conftest import settings_for

ESTIMATE = CostEstimate(
    region="eu-central-1",
    lines=(CostLine("instances", "1 × ml.g5.2xlarge", 1.5, 1095.0),),
    hours_per_month=730,
    source="price table",
    notes=(),
)


def _settings(monthly_budget: float = 0.0):
    return build_settings({"cost.monthly_budget": monthly_budget}, base=settings_for({"TARGET": "local"}))


def test_only_the_aws_target_is_gated() -> None:
    assert not budget.gated(settings_for({"TARGET": "local"}))


@pytest.mark.parametrize("yes", [True, False])
def test_over_budget_is_refused_whatever_the_answer(yes: bool) -> None:
    with pytest.raises(
        BudgetExceededError, match=r"^the estimate \$1095.00/month is above COST_MONTHLY_BUDGET_USD=500"
    ):
        budget.check_apply_cost(_settings(500), ESTIMATE, yes=yes, interactive=True)


@pytest.mark.parametrize("limit", [0.0, 1095.0, 2000.0], ids=["no budget", "at the budget", "under"])
def test_within_the_budget_yes_stands_for_the_answer(limit: float) -> None:
    assert budget.check_apply_cost(_settings(limit), ESTIMATE, yes=True, interactive=False) == "given"


def test_a_terminal_is_asked() -> None:
    assert budget.check_apply_cost(_settings(), ESTIMATE, yes=False, interactive=True) == "ask"


def test_without_yes_or_a_terminal_it_refuses_rather_than_guess() -> None:
    with pytest.raises(ConfirmationRequiredError, match="pass --yes when there is no terminal to ask on"):
        budget.check_apply_cost(_settings(), ESTIMATE, yes=False, interactive=False)


def test_a_no_changes_nothing() -> None:
    assert str(budget.declined()) == "apply cancelled at the cost confirmation: nothing was changed"
