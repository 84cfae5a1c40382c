"""The typed inputs and results of preflight: what the lookups found, and one row per check."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from llm_twin.config import Settings
from llm_twin.control.preflight.facts import ModelFacts

Status = Literal["OK", "WARN", "FAIL", "SKIP"]


@dataclass(frozen=True)
class CheckResult:
    """One row of the preflight table."""

    name: str
    status: Status
    detail: str
    """What was found, with the figures behind the verdict."""
    fix: str = ""
    """What to change when the status is WARN or FAIL."""


@dataclass(frozen=True)
class PreflightReport:
    checks: tuple[CheckResult, ...]

    @property
    def failed(self) -> bool:
        return any(c.status == "FAIL" for c in self.checks)

    def by_name(self, name: str) -> CheckResult:
        return next(c for c in self.checks if c.name == name)


@dataclass(frozen=True)
class IdentityLookup:
    account: str | None = None
    arn: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class QuotaLookup:
    """The '<type> for endpoint usage' quota, or why it could not be read."""

    code: str | None = None
    name: str = ""
    value: float | None = None
    error: str | None = None
    denied: bool = False
    """IAM said no: the check warns instead of failing."""


@dataclass(frozen=True)
class ModelLookup:
    facts: ModelFacts | None = None
    skipped: str | None = None
    """Why config.json was not read (the Hub is unreachable, a path only the container has...)."""
    error: str | None = None
    """config.json was found but could not be understood."""


@dataclass(frozen=True)
class HubLookup:
    """What the Hub said about a repo id; `reachable` False means it did not answer in time."""

    reachable: bool = False
    gated: bool | None = None
    status: int | None = None
    """HTTP status of the model-info request (401/403/404 for private, gated or missing)."""


@dataclass(frozen=True)
class PreflightInputs:
    settings: Settings
    identity: IdentityLookup
    quota: QuotaLookup
    model: ModelLookup
    hub: HubLookup
    is_hub_model: bool
    """HF_MODEL_ID names a Hub repo that TGI downloads at start-up (no MODEL_DATA_S3_URI)."""


def facts_or_skip(inputs: PreflightInputs, name: str) -> ModelFacts | CheckResult:
    """The model's facts, or the row that says why `name` could not use them."""
    model = inputs.model
    if model.facts is not None:
        return model.facts
    if model.error:
        return CheckResult(
            name, "WARN", f"config.json could not be used: {model.error}", "check the checkpoint"
        )
    return CheckResult(name, "SKIP", f"skipped: {model.skipped}")


def explicit_image_check(setting: str, uri: str, region: str) -> CheckResult:
    """The image row for an image set by hand: SageMaker pulls only from ECR in its own region."""
    if ".dkr.ecr." in uri and f".dkr.ecr.{region}." not in uri:
        return CheckResult(
            "image",
            "FAIL",
            f"{setting}={uri} is in another region than AWS_REGION={region}",
            "SageMaker pulls only from ECR in its own region: use that region's image",
        )
    return CheckResult("image", "OK", f"explicit {setting}={uri}")
