"""Turn settings into Terraform variables: pure functions, no I/O but `write_tfvars`.

Secrets never enter a tfvars file: the HF token travels as TF_VAR_hf_token in the
child's environment (`secret_env`), so it cannot be committed or left on disk.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from llm_twin.config import Settings
from llm_twin.control import local_target
from llm_twin.control.images import explicit_image, resolve_tgi_image, resolve_vllm_image
from llm_twin.protocol import gpus


def tags(settings: Settings) -> dict[str, str]:
    return {"project": settings.names.prefix, "managed-by": "terraform", "application": "llm-twin"}


def bootstrap_vars(settings: Settings) -> dict[str, Any]:
    return {
        "region": settings.region,
        "name_prefix": settings.names.prefix,
        "s3_use_path_style": settings.target == "local",
        "tags": tags(settings),
    }


def main_vars(settings: Settings, bootstrap_outputs: dict[str, Any]) -> dict[str, Any]:
    """Variables of the main stack; the role and bucket name come from the bootstrap."""
    endpoint: dict[str, Any] = {
        "name": settings.names.endpoint,
        "backend": settings.model.backend,
        "instance_type": settings.variant.instance_type,
        "instance_count": settings.variant.instance_count,
        "hf_model_id": settings.model.hf_model_id,
        "num_gpus": gpus.sm_num_gpus(settings.variant.instance_type, settings.variant.num_gpus),
        "max_input_tokens": settings.tokens.max_input_tokens,
        "max_total_tokens": settings.tokens.max_total_tokens,
        "max_batch_total_tokens": settings.tokens.max_batch_total_tokens,
        "max_batch_prefill_tokens": settings.tokens.max_batch_prefill_tokens,
        "vllm_max_num_seqs": settings.vllm.max_num_seqs,
        "vllm_gpu_memory_utilization": settings.vllm.gpu_memory_utilization,
        "messages_api_enabled": settings.model.messages_api_enabled,
        "container_startup_health_check_timeout_in_seconds": settings.variant.health_check_timeout,
        "model_data_download_timeout_in_seconds": settings.variant.download_timeout,
    }
    if image := explicit_image(settings):
        endpoint["image_uri"] = image
    elif settings.model.backend == "vllm":
        # The provider's prebuilt-image table has no huggingface-vllm, so the full URI goes as is.
        endpoint["image_uri"] = resolve_vllm_image(settings.model.vllm_version, settings.region).uri(
            settings.region
        )
    else:
        endpoint["tgi_image_tag"] = resolve_tgi_image(settings.model.tgi_version, settings.region).tag
    if settings.model.quantize:
        endpoint["quantize"] = settings.model.quantize
    if settings.model.data_s3_uri:
        endpoint["model_data_s3_uri"] = settings.model.data_s3_uri
    if settings.model.revision:
        endpoint["hf_model_revision"] = settings.model.revision
    # What the local runtime serves, in the container's environment so a change rolls the endpoint;
    # empty for AWS, where no runtime of ours reads it.
    endpoint["extra_environment"] = (
        local_target.container_environment(settings) if settings.target == "local" else {}
    )
    return {
        **bootstrap_vars(settings),
        "execution_role_arn": bootstrap_outputs["execution_role_arn"],
        "artifact_bucket_name": bootstrap_outputs["artifact_bucket_name"],
        "force_destroy": settings.destroy_force,
        "endpoint": endpoint,
        "autoscaling": {
            "enabled": settings.autoscaling.enabled,
            "min_capacity": settings.autoscaling.min_capacity,
            "max_capacity": settings.autoscaling.max_capacity,
            "target_invocations_per_instance": settings.autoscaling.target_invocations,
            "scale_in_cooldown": settings.autoscaling.scale_in_cooldown,
            "scale_out_cooldown": settings.autoscaling.scale_out_cooldown,
        },
        **rollout_vars(settings),
    }


def rollout_vars(settings: Settings) -> dict[str, Any]:
    """Safe rollout, its alarms, the scale-in schedule and async inference."""
    return {
        "rollout": {
            "mode": settings.rollout.mode,
            "canary_percent": settings.rollout.canary_percent,
            "linear_step_percent": settings.rollout.linear_step_percent,
            "wait_interval_in_seconds": settings.rollout.wait_seconds,
            "termination_wait_in_seconds": settings.rollout.termination_wait_seconds,
        },
        "alarms": {
            "invocation_5xx_enabled": settings.alarms.errors_5xx_enabled,
            "invocation_5xx_threshold": settings.alarms.errors_5xx_threshold,
            "latency_p99_enabled": settings.alarms.latency_p99_enabled,
            "latency_p99_threshold_ms": settings.alarms.latency_p99_ms,
            "setup_time_enabled": settings.alarms.setup_time_enabled,
            "setup_time_threshold_seconds": settings.alarms.setup_time_seconds,
        },
        "scheduled_scaling": {
            "enabled": settings.schedule.enabled,
            "scale_in_cron": settings.schedule.scale_in_cron,
            "scale_out_cron": settings.schedule.scale_out_cron,
            "timezone": settings.schedule.timezone,
        },
        "async_inference": {
            "enabled": settings.async_inference.enabled,
            "max_concurrent_invocations_per_instance": settings.async_inference.max_concurrent_invocations,
        },
    }


def secret_env(settings: Settings) -> dict[str, str]:
    """Sensitive variables, for the terraform child's environment only."""
    return {"TF_VAR_hf_token": settings.model.hf_token.value} if settings.model.hf_token else {}


def write_tfvars(path: Path, variables: dict[str, Any]) -> Path:
    """Write `terraform.tfvars.json` owner-only: it names accounts and roles."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(variables, handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.chmod(path, 0o600)
    return path
