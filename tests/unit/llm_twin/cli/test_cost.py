"""`llm-twin cost`, and the guard `apply` runs on the aws target, through CliRunner."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from llm_twin.cli.main import main
from llm_twin.control.cost import estimate as cost
from tests.support.targets import AWS


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
    assert (
        not re.search(r"\binf\b", shown.output) and "e+" not in shown.output
    )  # the image is "...-inference"


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


def test_cost_says_which_backends_image_it_priced(tmp_path: Path) -> None:
    shown = _cli(tmp_path, "cost", SERVING_BACKEND="vllm")
    assert shown.exit_code == 0, shown.output
    assert (
        "image:  vllm (763104351884.dkr.ecr.eu-central-1.amazonaws.com/huggingface-vllm:0.29.0-"
        in shown.output
    )
    assert f"note: {cost.SAME_PRICE}" in shown.output
    data = json.loads(_cli(tmp_path, "cost", "--json", SERVING_BACKEND="vllm").output)
    assert data["backend"] == "vllm" and "/huggingface-vllm:" in data["image"]
