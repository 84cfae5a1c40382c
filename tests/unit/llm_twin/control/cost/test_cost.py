"""`llm-twin cost`: the estimate from settings and the dated table, and the guard on `apply`."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from llm_twin.cli.main import main
from llm_twin.control.cost import estimate as cost
from llm_twin.control.cost import pricing
from llm_twin.control.deploy.deployment import Deployment
from llm_twin.errors import SettingsError
from tests.conftest import FIXTURES_DIR, settings_for

FIXTURES = FIXTURES_DIR
AWS = {
    "TARGET": "aws",
    "AWS_REGION": "eu-central-1",
    "AWS_ACCESS_KEY_ID": "AKIAEXAMPLEEXAMPLE00",
    "AWS_SECRET_ACCESS_KEY": "not-a-real-secret-key",
    "PRICING_SOURCE": "table",
}


def test_the_table_is_dated_usd_and_covers_its_fallback() -> None:
    table = cost.load_price_table()
    assert table.currency == "USD"
    assert date.fromisoformat(table.as_of) <= date.today()
    assert table.fallback_region in table.hosting_per_hour
    for region, prices in table.hosting_per_hour.items():
        assert region in table.s3_per_gb_month and region in table.alarm_per_month
        assert "ml.g5.2xlarge" in prices and all(p > 0 for p in prices.values())


def test_instances_times_autoscaling_max_plus_storage_and_alarms() -> None:
    table = cost.load_price_table()
    settings = settings_for(
        {
            "AUTOSCALING_ENABLED": "true",
            "AUTOSCALING_MIN_CAPACITY": "1",
            "AUTOSCALING_MAX_CAPACITY": "3",
            "MODEL_STORAGE_GB": "20",
            "COST_HOURS_PER_MONTH": "720",
        }
    )
    estimate = cost.estimate(settings, table)
    lines = {line.item: line for line in estimate.lines}
    price = table.hosting_per_hour["eu-central-1"]["ml.g5.2xlarge"]
    assert lines["instances"].hourly_usd == pytest.approx(3 * price)
    assert lines["instances"].monthly_usd == pytest.approx(3 * price * 720)
    assert "3 × ml.g5.2xlarge (autoscaling maximum)" in lines["instances"].detail
    assert lines["endpoint"].monthly_usd == 0
    assert lines["storage"].monthly_usd == pytest.approx(20 * table.s3_per_gb_month["eu-central-1"])
    expected_alarms = (
        2 + 3
    )  # target tracking's scale-out and scale-in, and the three rollback alarms (on by default)
    assert lines["alarms"].monthly_usd == pytest.approx(expected_alarms * 0.1)
    assert estimate.monthly_usd == pytest.approx(sum(line.monthly_usd for line in estimate.lines))
    assert estimate.source == f"price table as of {table.as_of} (USD)"
    assert any("data transfer" in note for note in estimate.notes)

    # Without autoscaling the instance count is the fixed one.
    fixed = cost.estimate(settings_for({"SAGEMAKER_INSTANCE_COUNT": "2"}), table)
    assert fixed.lines[0].hourly_usd == pytest.approx(2 * price)


def test_uncovered_region_and_unpriced_type() -> None:
    table = cost.load_price_table()
    tokyo = cost.estimate(settings_for({"AWS_REGION": "ap-northeast-1"}), table)
    assert tokyo.lines[0].hourly_usd == table.hosting_per_hour["us-east-1"]["ml.g5.2xlarge"]
    assert "ap-northeast-1 is not in the price table: us-east-1 prices stand in" in tokyo.notes
    with pytest.raises(SettingsError, match=r"SAGEMAKER_INSTANCE_TYPE='ml.c7i.large' has no price"):
        cost.estimate(settings_for({"SAGEMAKER_INSTANCE_TYPE": "ml.c7i.large"}), table)
    live = cost.estimate(settings_for({}), table, live_instance_price=2.0)
    assert live.lines[0].hourly_usd == 2.0 and live.source.startswith("AWS Pricing API")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("COST_HOURS_PER_MONTH", "0"),
        ("COST_HOURS_PER_MONTH", "745"),
        ("COST_MONTHLY_BUDGET_USD", "-5"),
        ("MODEL_STORAGE_GB", "lots"),
        ("PRICING_SOURCE", "guess"),
        # Each of these printed a 300-digit (or inf) estimate before the settings had ceilings.
        ("MODEL_STORAGE_GB", "1e308"),
        ("COST_MONTHLY_BUDGET_USD", "inf"),
        ("SAGEMAKER_INSTANCE_COUNT", "1000000"),
        ("AUTOSCALING_MAX_CAPACITY", "99999999999999999999"),
    ],
)
def test_cost_settings_out_of_range_stop_before_terraform(name: str, value: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["--env-file", str(tmp_path / "none.env"), "apply"],
        env={name: value, "LLM_TWIN_STATE_DIR": str(tmp_path)},
    )
    assert result.exit_code == 2
    assert result.output.startswith(f"SettingsError: {name}={value!r} is invalid")
    assert not (tmp_path / "local").exists()


def test_the_largest_estimate_the_settings_allow_prints_plain_figures(tmp_path: Path) -> None:
    """Every ceiling at once, on the dearest priced type: figures stay numbers a reader can read."""
    prices = cost.load_price_table().hosting_per_hour["eu-central-1"]
    dearest = max(prices, key=prices.__getitem__)
    shown = _cli(
        tmp_path,
        "cost",
        SAGEMAKER_INSTANCE_TYPE=dearest,
        AUTOSCALING_ENABLED="true",
        AUTOSCALING_MAX_CAPACITY="100",
        COST_HOURS_PER_MONTH="744",
        MODEL_STORAGE_GB="100000",
    )
    assert shown.exit_code == 0, shown.output
    figures = re.findall(r"\$\s*([0-9.]+)", shown.output)
    assert figures and all(len(figure.split(".")[0]) <= 9 for figure in figures), shown.output
    assert "inf" not in shown.output and "e+" not in shown.output


def test_pricing_api_answer_is_parsed() -> None:
    recorded = json.loads((FIXTURES / "pricing_sagemaker_hosting.json").read_text())
    assert pricing.hourly_price(recorded["PriceList"]) == pytest.approx(1.894)
    assert pricing.hourly_price([]) is None


def test_unreachable_pricing_api_falls_back_to_the_table() -> None:
    settings = settings_for({**AWS, "PRICING_SOURCE": "auto"})
    estimate = Deployment(settings).cost_estimate()  # no route to AWS here: the table answers
    assert estimate.source.startswith("price table as of")


def _cli(tmp_path: Path, *args: str, **env: str):
    return CliRunner().invoke(
        main,
        ["--env-file", str(tmp_path / "none.env"), *args],
        env={"LLM_TWIN_STATE_DIR": str(tmp_path), **env},
    )


def test_cost_command_prints_and_emits_json(tmp_path: Path) -> None:
    shown = _cli(tmp_path, "cost", AUTOSCALING_ENABLED="true", AUTOSCALING_MAX_CAPACITY="2")
    assert shown.exit_code == 0, shown.output
    assert "2 × ml.g5.2xlarge (autoscaling maximum)" in shown.output
    assert "prices: price table as of" in shown.output and "  total  " in shown.output
    data = json.loads(_cli(tmp_path, "cost", "--json").output)
    assert data["monthly_usd"] == pytest.approx(sum(line["monthly_usd"] for line in data["lines"]), abs=0.01)
    assert not (tmp_path / "local").exists()  # an estimate starts nothing


def test_apply_on_aws_refuses_without_yes_or_a_terminal(tmp_path: Path) -> None:
    result = _cli(tmp_path, "apply", "--skip-preflight", **AWS)  # preflight has its own tests
    assert result.exit_code == 2
    assert "cost estimate for llm-twin-endpoint in eu-central-1" in result.output
    assert "ConfirmationRequiredError: apply on TARGET=aws needs a confirmation" in result.output
    assert AWS["AWS_SECRET_ACCESS_KEY"] not in result.output
    assert not (tmp_path / "aws").exists()


def test_apply_on_aws_answered_no_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("llm_twin.cli.cost._interactive", lambda: True)
    result = CliRunner().invoke(
        main,
        ["--env-file", str(tmp_path / "none.env"), "apply", "--skip-preflight"],
        env={"LLM_TWIN_STATE_DIR": str(tmp_path), **AWS},
        input="n\n",
    )
    assert result.exit_code == 2
    assert "apply for up to $1.89/h? [y/N]" in result.output
    assert "apply cancelled at the cost confirmation: nothing was changed" in result.output
    assert not (tmp_path / "aws").exists()


def test_apply_over_budget_is_refused_even_with_yes(tmp_path: Path) -> None:
    result = _cli(tmp_path, "apply", "--yes", "--skip-preflight", COST_MONTHLY_BUDGET_USD="500", **AWS)
    assert result.exit_code == 2
    assert "BudgetExceededError: the estimate $" in result.output
    assert "is above COST_MONTHLY_BUDGET_USD=500" in result.output
    assert not (tmp_path / "aws").exists()
