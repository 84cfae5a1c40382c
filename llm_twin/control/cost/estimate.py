"""The cost estimate of the configured stack: pure logic over settings and a dated price table.

The figure that guards `apply` is the worst case the settings allow: every instance the
autoscaling maximum lets run, around the clock. Prices come from `prices.json` (USD, with
its `as_of` date), unless the caller passes live instance prices from AWS's Pricing API
(`llm_twin.control.cost.pricing`). Data transfer and request charges are not included: they depend on
traffic, not on the stack.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

from llm_twin.config import Settings
from llm_twin.control.images import backend_image, explicit_image
from llm_twin.errors import SettingsError

PriceSource = Literal["table", "pricing-api"]
EXCLUDED = "data transfer, request and CloudWatch Logs charges (they scale with traffic)"
SAME_PRICE = (
    "the instance price is the same for tgi and vllm: SageMaker bills the instance, "
    "and the Hugging Face DLC images carry no charge of their own"
)
# Target tracking makes two CloudWatch alarms of its own (scale out, scale in).
TARGET_TRACKING_ALARMS = 2


@dataclass(frozen=True)
class PriceTable:
    """The versioned price table shipped with the package."""

    as_of: str
    """The date the prices were recorded (ISO)."""
    currency: str
    """Always USD."""
    fallback_region: str
    """Whose prices stand in for a region the table does not cover."""
    hosting_per_hour: dict[str, dict[str, float]]
    """Region → SageMaker instance type → USD per instance-hour."""
    s3_per_gb_month: dict[str, float]
    """Region → USD per GB-month of S3 Standard."""
    alarm_per_month: dict[str, float]
    """Region → USD per standard-resolution CloudWatch alarm-month."""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PriceTable:
        return cls(
            as_of=data["as_of"],
            currency=data["currency"],
            fallback_region=data["fallback_region"],
            hosting_per_hour=data["sagemaker_hosting_per_hour"],
            s3_per_gb_month=data["s3_standard_per_gb_month"],
            alarm_per_month=data["cloudwatch_alarm_per_month"],
        )


def load_price_table() -> PriceTable:
    """`llm_twin/control/cost/prices.json`, read when asked (never at import time)."""
    text = resources.files("llm_twin.control.cost").joinpath("prices.json").read_text(encoding="utf-8")
    return PriceTable.from_dict(json.loads(text))


@dataclass(frozen=True)
class CostLine:
    """One billed item of the estimate."""

    item: str
    """What is billed, e.g. "instances"."""
    detail: str
    """How the figure was reached, e.g. "2 × ml.g5.2xlarge at $1.894/h"."""
    hourly_usd: float
    monthly_usd: float


@dataclass(frozen=True)
class CostEstimate:
    """The stack's cost at its largest configured size."""

    region: str
    lines: tuple[CostLine, ...]
    hours_per_month: int
    source: str
    """Where the instance price came from: the table (with its date) or the Pricing API."""
    notes: tuple[str, ...]
    """Caveats: a region priced from another's table, what is excluded."""
    backend: str = "tgi"
    """SERVING_BACKEND whose container the estimate is for."""
    image: str = ""
    """The image that backend would run (the override, or the catalogue's for the region)."""

    @property
    def hourly_usd(self) -> float:
        return sum(line.hourly_usd for line in self.lines)

    @property
    def monthly_usd(self) -> float:
        return sum(line.monthly_usd for line in self.lines)


def max_instances(settings: Settings) -> int:
    """The most instances the settings let run: autoscaling's maximum owns the count when on."""
    return (
        settings.autoscaling.max_capacity if settings.autoscaling.enabled else settings.variant.instance_count
    )


def alarm_count(settings: Settings) -> int:
    """CloudWatch alarms the stack creates (rollback alarms when that feature is present)."""
    count = TARGET_TRACKING_ALARMS if settings.autoscaling.enabled else 0
    alarms = settings.alarms
    return count + sum((alarms.errors_5xx_enabled, alarms.latency_p99_enabled, alarms.setup_time_enabled))


def estimate(
    settings: Settings, table: PriceTable, *, live_instance_price: float | None = None
) -> CostEstimate:
    """Hourly and monthly USD for the configured stack; SettingsError for an unpriced instance type."""
    notes: list[str] = []
    region = settings.region
    priced_region = region
    if region not in table.hosting_per_hour:
        priced_region = table.fallback_region
        notes.append(f"{region} is not in the price table: {priced_region} prices stand in")
    hours = settings.cost.hours_per_month

    if live_instance_price is not None:
        instance_price = live_instance_price
        source = f"AWS Pricing API ({region}, on-demand)"
    else:
        prices = table.hosting_per_hour[priced_region]
        if settings.variant.instance_type not in prices:
            raise SettingsError(
                f"SAGEMAKER_INSTANCE_TYPE={settings.variant.instance_type!r} has no price in the table "
                f"(as of {table.as_of}): priced types are {', '.join(sorted(prices))}"
            )
        instance_price = prices[settings.variant.instance_type]
        source = f"price table as of {table.as_of} ({table.currency})"

    count = max_instances(settings)
    scaling = " (autoscaling maximum)" if settings.autoscaling.enabled else ""
    instances_hourly = instance_price * count
    lines = [
        CostLine(
            item="instances",
            detail=f"{count} × {settings.variant.instance_type}{scaling} at ${instance_price:.4f}/h",
            hourly_usd=instances_hourly,
            monthly_usd=instances_hourly * hours,
        ),
        CostLine(
            item="endpoint",
            detail="no charge of its own: SageMaker bills the endpoint through its instances",
            hourly_usd=0.0,
            monthly_usd=0.0,
        ),
    ]
    s3_price = table.s3_per_gb_month.get(priced_region, table.s3_per_gb_month[table.fallback_region])
    storage_monthly = settings.cost.storage_gb * s3_price
    lines.append(
        CostLine(
            item="storage",
            detail=f"{settings.cost.storage_gb:g} GB in S3 (weights, state) at ${s3_price}/GB-month",
            hourly_usd=storage_monthly / hours,
            monthly_usd=storage_monthly,
        )
    )
    alarms = alarm_count(settings)
    if alarms:
        alarm_price = table.alarm_per_month.get(priced_region, table.alarm_per_month[table.fallback_region])
        lines.append(
            CostLine(
                item="alarms",
                detail=f"{alarms} CloudWatch alarms at ${alarm_price}/month",
                hourly_usd=alarms * alarm_price / hours,
                monthly_usd=alarms * alarm_price,
            )
        )
    notes.append(SAME_PRICE)
    notes.append(f"not included: {EXCLUDED}")
    return CostEstimate(
        region=region,
        lines=tuple(lines),
        hours_per_month=hours,
        source=source,
        notes=tuple(notes),
        backend=settings.model.backend,
        image=priced_image(settings),
    )


def priced_image(settings: Settings) -> str:
    """The image the chosen backend runs in the region, as the estimate names it."""
    explicit = explicit_image(settings)
    if explicit:
        return explicit
    image = backend_image(settings)
    return image.uri(settings.region) or f"{image.repository}:{image.tag} (not offered in {settings.region})"


def over_budget(settings: Settings, result: CostEstimate) -> bool:
    """True when a budget is set and the worst-case month exceeds it."""
    return settings.cost.monthly_budget > 0 and result.monthly_usd > settings.cost.monthly_budget
