"""The cost estimate from the settings and the dated price table (the CLI's side: tests/unit/llm_twin/cli/test_cost.py)."""

from __future__ import annotations

import json
from datetime import date

import pytest

from llm_twin.control.cost import estimate as cost
from llm_twin.control.cost import pricing
from llm_twin.control.deploy.deployment import Deployment
from llm_twin.errors import SettingsError
from tests.conftest import FIXTURES_DIR, settings_for
from tests.support.targets import AWS

FIXTURES = FIXTURES_DIR


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


def test_pricing_api_answer_is_parsed() -> None:
    recorded = json.loads((FIXTURES / "pricing_sagemaker_hosting.json").read_text())
    assert pricing.hourly_price(recorded["PriceList"]) == pytest.approx(1.894)
    assert pricing.hourly_price([]) is None


def test_unreachable_pricing_api_falls_back_to_the_table() -> None:
    settings = settings_for({**AWS, "PRICING_SOURCE": "auto"})
    estimate = Deployment(settings).cost_estimate()  # no route to AWS here: the table answers
    assert estimate.source.startswith("price table as of")


def test_the_estimate_names_the_backends_image_and_prices_the_instances_alike() -> None:
    table = cost.load_price_table()
    tgi = cost.estimate(settings_for({}), table)
    vllm = cost.estimate(settings_for({"SERVING_BACKEND": "vllm"}), table)
    assert (tgi.backend, vllm.backend) == ("tgi", "vllm")
    assert tgi.image.endswith("/huggingface-pytorch-tgi-inference:2.7.0-tgi3.3.6-gpu-py311-cu124-ubuntu22.04")
    assert vllm.image == (
        "763104351884.dkr.ecr.eu-central-1.amazonaws.com/huggingface-vllm:"
        "0.29.0-transformers5.15.0-gpu-py312-cu130-ubuntu24.04-v1.0"
    )
    assert tgi.lines == vllm.lines
    assert cost.SAME_PRICE in vllm.notes


def test_an_image_override_is_what_the_estimate_names() -> None:
    mine = "123456789012.dkr.ecr.eu-central-1.amazonaws.com/vllm:mine"
    estimate = cost.estimate(
        settings_for({"SERVING_BACKEND": "vllm", "VLLM_IMAGE_URI": mine}), cost.load_price_table()
    )
    assert estimate.image == mine
