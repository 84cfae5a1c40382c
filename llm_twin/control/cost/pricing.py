"""AWS's Pricing API, asked for one SageMaker hosting price (transport layer).

Used only on the aws target, when credentials exist and PRICING_SOURCE=auto. The API
lives in a few regions only (us-east-1, ap-south-1); each is given a few seconds and one
attempt, and any failure means "no live price", so `llm-twin cost` falls back to the
table and says so. It never blocks an apply for long.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from llm_twin.control.aws import AwsClients

PRICING_REGIONS = ("us-east-1", "ap-south-1")
QUICK = Config(connect_timeout=2, read_timeout=4, retries={"max_attempts": 1, "mode": "standard"})


def hosting_filters(region: str, instance_type: str) -> list[dict[str, str]]:
    """GetProducts filters for on-demand real-time hosting of one instance type in one region."""
    return [
        {"Type": "TERM_MATCH", "Field": "regionCode", "Value": region},
        {"Type": "TERM_MATCH", "Field": "instanceName", "Value": instance_type},
        {"Type": "TERM_MATCH", "Field": "component", "Value": "Hosting"},
    ]


def hourly_price(price_list: list[str]) -> float | None:
    """The on-demand USD per hour from GetProducts' PriceList (JSON strings); None if absent."""
    for raw in price_list:
        product = json.loads(raw)
        for term in product.get("terms", {}).get("OnDemand", {}).values():
            for dimension in term.get("priceDimensions", {}).values():
                usd = dimension.get("pricePerUnit", {}).get("USD")
                if usd and dimension.get("unit", "").lower().startswith("hr") and float(usd) > 0:
                    return float(usd)
    return None


def live_hosting_price(
    clients_for: Callable[[str], AwsClients], region: str, instance_type: str
) -> float | None:
    """Ask each Pricing API region in turn; None when none answers quickly with a price.

    `clients_for(pricing_region)` returns an `AwsClients` for that region.
    """
    for pricing_region in PRICING_REGIONS:
        clients = clients_for(pricing_region)
        try:
            response = clients.session.client(
                "pricing", region_name=pricing_region, config=QUICK
            ).get_products(
                ServiceCode="AmazonSageMaker", Filters=hosting_filters(region, instance_type), MaxResults=10
            )
        except (BotoCoreError, ClientError):
            continue
        price = hourly_price(response.get("PriceList", []))
        if price is not None:
            return price
    return None
