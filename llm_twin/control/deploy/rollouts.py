"""The config changes `apply` observed, and the check that tells a rolled-back update from a done one.

SageMaker keeps no history of an endpoint's configs, so each change an apply makes is
appended to `rollouts.jsonl` beside the main stack's files; `status` reads the last one.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from llm_twin.control.aws import EndpointState
from llm_twin.errors import RolloutRolledBackError

ROLLOUTS_FILE = "rollouts.jsonl"
"""Config changes `apply` observed, next to the main stack's files: SageMaker keeps no history."""


@dataclass(frozen=True)
class RolloutRecord:
    """One endpoint-config change an apply made, as it was observed."""

    previous_config: str
    """What served before the apply."""
    target_config: str
    """What Terraform built and asked SageMaker to switch to."""
    serving_config: str
    """What served once the endpoint was InService again."""
    outcome: str
    """completed, or rolled back (SageMaker went back to previous_config)."""
    at: str
    failure_reason: str | None = None


def check_rollout(
    path: Path, serving_before: str | None, desired: str | None, endpoint: EndpointState
) -> None:
    """Record a config change in `path`, and fail when SageMaker rolled it back.

    A rolled-back update ends InService on the old config, so Terraform's waiter sees
    success; only comparing what serves with what Terraform built tells the two apart.
    """
    if serving_before is None or desired is None or serving_before == desired:
        return
    rolled_back = endpoint.config_name != desired
    record = RolloutRecord(
        previous_config=serving_before,
        target_config=desired,
        serving_config=endpoint.config_name,
        outcome="rolled back" if rolled_back else "completed",
        at=datetime.now(UTC).isoformat(timespec="seconds"),
        failure_reason=endpoint.failure_reason,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    # 0600 like the state beside it: config names are not secret, but the directory is private.
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(descriptor, "a") as handle:
        handle.write(json.dumps(asdict(record), sort_keys=True) + "\n")
    if rolled_back:
        raise RolloutRolledBackError(
            f"the update of {endpoint.name} to {desired} was rolled back and it still serves "
            f"{endpoint.config_name}: {endpoint.failure_reason or 'no reason given'}; "
            "fix the model and apply again"
        )


def last_rollout(path: Path) -> RolloutRecord | None:
    """The newest config change recorded in `path`, or None."""
    if not path.is_file():
        return None
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    return RolloutRecord(**json.loads(lines[-1])) if lines else None
