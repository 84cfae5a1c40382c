"""Settings from `.env` and the environment, validated before anything runs.

Every check exists so that a bad value stops the CLI with one line naming the setting
and what is allowed, before Terraform creates anything. The environment wins over
`.env`, and both are read when `load_settings` is called, never at import time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from llm_twin.config.model import Settings
from llm_twin.config.rules import bucket_name_problem, directory_problem, file_problem, profile_problem
from llm_twin.config.spec import BACKEND_ONLY, DEFAULT_PLUGIN_MIRROR, SPEC
from llm_twin.config.tokens import broken_rules
from llm_twin.config.values import invalid
from llm_twin.errors import SettingsError

# Stands for the account id in the bucket names the prefix begins (never sent anywhere).
ACCOUNT_PLACEHOLDER = "123456789012"


def _default(path: str) -> object:
    """The dataclass default of a "group.field" path."""
    value: object = Settings()
    for part in path.split("."):
        value = getattr(value, part)
    return value


def build_settings(values: Mapping[str, object], base: Settings | None = None) -> Settings:
    """`base` (the defaults when None) with {"group.field": value} put in, unchecked."""
    # Untyped on purpose: dataclasses.replace checks each keyword against its field's type.
    top: dict[str, Any] = {}
    groups: dict[str, dict[str, Any]] = {}
    for path, value in values.items():
        group, _, name = path.rpartition(".")
        if group:
            groups.setdefault(group, {})[name] = value
        else:
            top[name] = value
    base = base or Settings()
    for group, changes in groups.items():
        top[group] = dataclasses.replace(getattr(base, group), **changes)
    return dataclasses.replace(base, **top)


def _check_backend(s: Settings, values: Mapping[str, object], merged: Mapping[str, str]) -> None:
    """A setting the chosen container never reads, set to anything but its default, stops here:
    silently dropping it would deploy something other than what the user asked for."""
    backend = s.model.backend
    for env_name, owner in BACKEND_ONLY.items():
        path = SPEC[env_name][0]
        if owner != backend and path in values and values[path] != _default(path):
            raise SettingsError(
                f"{env_name}={merged[env_name]!r} does not apply to SERVING_BACKEND={backend}: "
                f"only the {owner} container reads it; remove it, or set SERVING_BACKEND={owner}"
            )


def _check_relations(s: Settings) -> None:
    """Rules between settings, each named so the fix is obvious."""
    # TGI's launcher rules; vLLM reads MAX_TOTAL_TOKENS alone (its max model length).
    for rule in broken_rules(s.tokens) if s.model.backend == "tgi" else []:
        raise SettingsError(rule.message(s.tokens))
    if s.schedule.enabled and not s.autoscaling.enabled:
        raise SettingsError(
            "SCHEDULED_SCALE_IN=true needs AUTOSCALING_ENABLED=true: the schedule moves the scalable "
            "target's bounds, and there is none without autoscaling"
        )
    scaling = s.autoscaling
    if scaling.max_capacity < scaling.min_capacity:
        raise SettingsError(
            f"AUTOSCALING_MAX_CAPACITY={scaling.max_capacity} must be >= "
            f"AUTOSCALING_MIN_CAPACITY={scaling.min_capacity}"
        )
    prefix = s.names.prefix
    for bucket in (
        f"{prefix}-tfstate-{ACCOUNT_PLACEHOLDER}",
        f"{prefix}-artifacts-{ACCOUNT_PLACEHOLDER}-{s.region}",
    ):
        if problem := bucket_name_problem(bucket):
            shown = bucket.replace(ACCOUNT_PLACEHOLDER, "<account>")
            raise SettingsError(
                f"LLM_TWIN_PREFIX={prefix!r} is invalid: it begins the bucket name {shown!r}, and {problem}"
            )
    if not s.names.endpoint.startswith(f"{prefix}-"):
        raise SettingsError(
            f"SAGEMAKER_ENDPOINT_NAME={s.names.endpoint!r} must start with '{prefix}-' "
            "(LLM_TWIN_PREFIX): the deployer may only touch names with that prefix"
        )
    admin = s.admin
    if s.target == "aws" and not (admin.profile or (admin.access_key_id and admin.secret_access_key)):
        raise SettingsError(
            "TARGET=aws needs admin credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
            "(or AWS_PROFILE) in .env or the environment"
        )


def _check_environment(s: Settings, merged: Mapping[str, str]) -> None:
    """What the settings name outside themselves: the AWS profile, the state directory, the key file.

    Checked without creating anything, so a bad path stops here instead of as a traceback later.
    """
    if s.admin.profile and (problem := profile_problem(s.admin.profile)):
        raise invalid("AWS_PROFILE", s.admin.profile, problem)
    if problem := directory_problem(s.state.dir):
        raise invalid("LLM_TWIN_STATE_DIR", merged.get("LLM_TWIN_STATE_DIR", str(s.state.dir)), problem)
    if problem := file_problem(s.state.credentials_file):
        raise invalid(
            "SAGEMAKER_USER_CREDENTIALS",
            merged.get("SAGEMAKER_USER_CREDENTIALS", str(s.state.credentials_file)),
            problem,
        )


def load_settings(environ: Mapping[str, str], dotenv_path: Path | None = Path(".env")) -> Settings:
    """Merge `.env` under `environ` and validate; SettingsError on the first bad value."""
    merged: dict[str, str] = {}
    if dotenv_path is not None and dotenv_path.is_file():
        merged.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
    merged.update({k: v for k, v in environ.items() if k in SPEC})

    values: dict[str, object] = {}
    for env_name, (path, parse) in SPEC.items():
        raw = merged.get(env_name)
        if raw is None or (raw.strip() == "" and not isinstance(_default(path), bool | type(None))):
            continue
        values[path] = parse(env_name, raw)
    if values.get("tooling.plugin_dir") is None and DEFAULT_PLUGIN_MIRROR.is_dir():
        values["tooling.plugin_dir"] = DEFAULT_PLUGIN_MIRROR  # the Makefile's old default, now the CLI's own
    settings = build_settings(values)
    _check_backend(settings, values, merged)
    _check_relations(settings)
    _check_environment(settings, merged)
    return settings
