"""Turn settings into Terraform variables: pure functions, no I/O but `write_tfvars`.

Secrets never enter a tfvars file: the HF token travels as TF_VAR_hf_token in the
child's environment (`secret_env`), so it cannot be committed or left on disk.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from llm_twin.config.settings import Settings
from llm_twin.control.images import resolve_tgi_image
from llm_twin.protocol import gpus


def tags(settings: Settings) -> dict[str, str]:
    return {"project": settings.name_prefix, "managed-by": "terraform", "application": "llm-twin"}


def bootstrap_vars(settings: Settings) -> dict[str, Any]:
    return {
        "region": settings.region,
        "name_prefix": settings.name_prefix,
        "s3_use_path_style": settings.target == "local",
        "tags": tags(settings),
    }


def main_vars(settings: Settings, bootstrap_outputs: dict[str, Any]) -> dict[str, Any]:
    """Variables of the main stack; the role and bucket name come from the bootstrap."""
    endpoint: dict[str, Any] = {
        "name": settings.endpoint,
        "instance_type": settings.instance_type,
        "instance_count": settings.instance_count,
        "hf_model_id": settings.hf_model_id,
        "num_gpus": gpus.sm_num_gpus(settings.instance_type, settings.num_gpus),
        "max_input_tokens": settings.max_input_tokens,
        "max_total_tokens": settings.max_total_tokens,
        "max_batch_total_tokens": settings.max_batch_total_tokens,
        "max_batch_prefill_tokens": settings.max_batch_prefill_tokens,
        "messages_api_enabled": settings.messages_api_enabled,
        "container_startup_health_check_timeout_in_seconds": settings.health_check_timeout,
        "model_data_download_timeout_in_seconds": settings.download_timeout,
    }
    if settings.image_uri:
        endpoint["image_uri"] = settings.image_uri
    else:
        endpoint["tgi_image_tag"] = resolve_tgi_image(settings.tgi_version, settings.region).tag
    if settings.quantize:
        endpoint["quantize"] = settings.quantize
    if settings.model_data_s3_uri:
        endpoint["model_data_s3_uri"] = settings.model_data_s3_uri
    return {
        **bootstrap_vars(settings),
        "execution_role_arn": bootstrap_outputs["execution_role_arn"],
        "artifact_bucket_name": bootstrap_outputs["artifact_bucket_name"],
        "force_destroy": settings.destroy_force,
        "endpoint": endpoint,
        "autoscaling": {
            "enabled": settings.autoscaling_enabled,
            "min_capacity": settings.autoscaling_min,
            "max_capacity": settings.autoscaling_max,
            "target_invocations_per_instance": settings.autoscaling_target,
            "scale_in_cooldown": settings.autoscaling_scale_in_cooldown,
            "scale_out_cooldown": settings.autoscaling_scale_out_cooldown,
        },
        **rollout_vars(settings),
    }


def rollout_vars(settings: Settings) -> dict[str, Any]:
    """Safe rollout, its alarms, the scale-in schedule and async inference."""
    return {
        "rollout": {
            "mode": settings.rollout_mode,
            "canary_percent": settings.rollout_canary_percent,
            "linear_step_percent": settings.rollout_linear_step_percent,
            "wait_interval_in_seconds": settings.rollout_wait_seconds,
            "termination_wait_in_seconds": settings.rollout_termination_wait_seconds,
        },
        "alarms": {
            "invocation_5xx_enabled": settings.alarm_5xx_enabled,
            "invocation_5xx_threshold": settings.alarm_5xx_threshold,
            "latency_p99_enabled": settings.alarm_latency_p99_enabled,
            "latency_p99_threshold_ms": settings.alarm_latency_p99_ms,
            "setup_time_enabled": settings.alarm_setup_time_enabled,
            "setup_time_threshold_seconds": settings.alarm_setup_time_seconds,
        },
        "scheduled_scaling": {
            "enabled": settings.scheduled_scale_in,
            "scale_in_cron": settings.scale_in_cron,
            "scale_out_cron": settings.scale_out_cron,
            "timezone": settings.schedule_timezone,
        },
        "async_inference": {
            "enabled": settings.async_inference_enabled,
            "max_concurrent_invocations_per_instance": settings.async_max_concurrent_invocations,
        },
    }


def secret_env(settings: Settings) -> dict[str, str]:
    """Sensitive variables, for the terraform child's environment only."""
    return {"TF_VAR_hf_token": settings.hf_token.value} if settings.hf_token else {}


def write_tfvars(path: Path, variables: dict[str, Any]) -> Path:
    """Write `terraform.tfvars.json` owner-only: it names accounts and roles."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(variables, handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.chmod(path, 0o600)
    return path
