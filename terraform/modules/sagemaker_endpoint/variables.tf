# The serving backend's own variables (backend, vllm) are in environment.tf, beside what they render.

variable "name" {
  description = "Endpoint name: 1-63 letters, digits or hyphens, starting and ending with a letter or digit. Also the prefix of the model and endpoint-config names."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$", var.name))
    error_message = "name must be 1-63 letters, digits or hyphens, starting and ending with a letter or digit (SageMaker's endpoint name rule)."
  }
}

variable "execution_role_arn" {
  description = "ARN of the IAM role SageMaker assumes to pull the image and read model data."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", var.execution_role_arn))
    error_message = "execution_role_arn must be an IAM role ARN (arn:aws:iam::<12-digit account>:role/<name>)."
  }
}

variable "image_uri" {
  description = "Explicit container image URI. null resolves the Hugging Face TGI DLC for the region from tgi_image_tag; with backend vllm it is required (the provider's image table has no huggingface-vllm)."
  type        = string
  default     = null

  validation {
    condition     = var.image_uri == null || can(regex("^[^\\s:]+(:[^\\s]+)?$", var.image_uri))
    error_message = "image_uri must be null or an image reference such as <account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>."
  }

  validation {
    condition     = var.backend != "vllm" || var.image_uri != null
    error_message = "image_uri is needed when backend is vllm: the provider's prebuilt-image table has no huggingface-vllm repository."
  }
}

variable "tgi_image_tag" {
  description = "Full tag of the huggingface-pytorch-tgi-inference DLC, e.g. 2.7.0-tgi3.3.6-gpu-py311-cu124-ubuntu22.04 (the CLI resolves it from TGI_VERSION). Needed when image_uri is null."
  type        = string
  default     = null

  validation {
    condition     = var.tgi_image_tag == null || can(regex("^[0-9.]+-tgi[0-9.]+-(gpu|cpu)-py[0-9]+(-[a-z0-9.]+)*$", coalesce(var.tgi_image_tag, "none")))
    error_message = "tgi_image_tag must be null or a full TGI DLC tag like 2.7.0-tgi3.3.6-gpu-py311-cu124-ubuntu22.04."
  }
}

variable "hf_model_id" {
  description = "HF_MODEL_ID: a Hugging Face Hub repo id (owner/name) or a path inside the container, such as /opt/ml/model."
  type        = string
  nullable    = false

  validation {
    condition     = length(trimspace(var.hf_model_id)) > 0 && !can(regex("\\s", var.hf_model_id))
    error_message = "hf_model_id must be a non-empty Hub repo id (owner/name) or an absolute path, without spaces."
  }
}

variable "hf_model_revision" {
  description = "HF_MODEL_REVISION: the Hub branch, tag or 40-hex commit of hf_model_id to serve (TGI's SageMaker entrypoint passes it on as REVISION). null serves the default branch."
  type        = string
  default     = null

  validation {
    condition     = var.hf_model_revision == null || can(regex("^[A-Za-z0-9_][A-Za-z0-9._/-]{0,254}$", var.hf_model_revision))
    error_message = "hf_model_revision must be null, a 40-hex commit sha, or a branch or tag name of letters, digits, '.', '_', '-' and '/'."
  }
}

variable "hf_token" {
  description = "Hugging Face token for gated models (HF_TOKEN). null for public models. Pass it as TF_VAR_hf_token, never in a tfvars file."
  type        = string
  default     = null
  sensitive   = true
}

variable "model_data_s3_uri" {
  description = "s3://bucket/prefix/ of uncompressed safetensors weights to mount at /opt/ml/model (CompressionType None). null lets TGI download hf_model_id."
  type        = string
  default     = null

  validation {
    condition     = var.model_data_s3_uri == null || can(regex("^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.*/$", var.model_data_s3_uri))
    error_message = "model_data_s3_uri must be null or an S3 prefix ending in '/', e.g. s3://bucket/models/twin/v1/."
  }
}

variable "instance_type" {
  description = "SageMaker hosting instance type, e.g. ml.g5.2xlarge. Must start with 'ml.'."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^ml\\.[a-z0-9]+\\.[a-z0-9]+$", var.instance_type))
    error_message = "instance_type must be a SageMaker instance type starting with 'ml.', e.g. ml.g5.2xlarge."
  }
}

variable "instance_count" {
  description = "Instances the variant starts with (>= 1). With autoscaling on, min_capacity is used instead."
  type        = number
  nullable    = false

  validation {
    condition     = var.instance_count >= 1 && floor(var.instance_count) == var.instance_count
    error_message = "instance_count must be a whole number >= 1."
  }
}

variable "variant_name" {
  description = "Production variant name (letters, digits, hyphens; up to 63)."
  type        = string
  default     = "AllTraffic"
  nullable    = false

  validation {
    condition     = can(regex("^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$", var.variant_name))
    error_message = "variant_name must be 1-63 letters, digits or hyphens, starting and ending with a letter or digit."
  }
}

variable "num_gpus" {
  description = "GPUs the model is sharded across (1-8): SM_NUM_GPUS for TGI, SM_VLLM_TENSOR_PARALLEL_SIZE for vLLM; must match the instance type."
  type        = number
  nullable    = false

  validation {
    condition     = var.num_gpus >= 1 && var.num_gpus <= 8 && floor(var.num_gpus) == var.num_gpus
    error_message = "num_gpus must be a whole number from 1 to 8."
  }
}

variable "token_limits" {
  description = "Token limits. With backend tgi: max_input_tokens < max_total_tokens <= max_batch_total_tokens, and max_batch_prefill_tokens >= max_input_tokens (the rules of llm_twin/config/tokens.py, checked equal by tests/terraform/test_variables.py). With backend vllm only max_total_tokens is read (vLLM's max model length), so the rules do not bind."
  type = object({
    max_input_tokens         = number
    max_total_tokens         = number
    max_batch_total_tokens   = number
    max_batch_prefill_tokens = number
  })
  nullable = false

  validation {
    condition     = alltrue([for v in values(var.token_limits) : v >= 1 && floor(v) == v])
    error_message = "token_limits values must be whole numbers >= 1."
  }

  validation {
    condition     = var.backend != "tgi" || var.token_limits.max_total_tokens > var.token_limits.max_input_tokens
    error_message = "token_limits.max_total_tokens must be greater than max_input_tokens."
  }

  validation {
    condition     = var.backend != "tgi" || var.token_limits.max_batch_prefill_tokens >= var.token_limits.max_input_tokens
    error_message = "token_limits.max_batch_prefill_tokens must be >= max_input_tokens."
  }

  validation {
    condition     = var.backend != "tgi" || var.token_limits.max_batch_total_tokens >= var.token_limits.max_total_tokens
    error_message = "token_limits.max_batch_total_tokens must be >= max_total_tokens, or no request could ever fit a batch."
  }
}

variable "quantize" {
  description = "HF_MODEL_QUANTIZE: null (off), or one of awq, eetq, exl2, gptq, marlin, bitsandbytes, bitsandbytes-nf4, bitsandbytes-fp4, fp8."
  type        = string
  default     = null

  validation {
    condition     = var.quantize == null || contains(["awq", "eetq", "exl2", "gptq", "marlin", "bitsandbytes", "bitsandbytes-nf4", "bitsandbytes-fp4", "fp8"], coalesce(var.quantize, "none"))
    error_message = "quantize must be null or one of: awq, eetq, exl2, gptq, marlin, bitsandbytes, bitsandbytes-nf4, bitsandbytes-fp4, fp8."
  }
}

variable "messages_api_enabled" {
  description = "MESSAGES_API_ENABLED: when true, /invocations speaks the OpenAI-style Messages API instead of TGI's generate payload."
  type        = bool
  nullable    = false
}

variable "extra_environment" {
  description = "Additional container environment variables. Keys must not repeat the ones this module sets."
  type        = map(string)
  nullable    = false

  validation {
    condition     = length(setintersection(keys(var.extra_environment), ["HF_MODEL_ID", "HF_MODEL_REVISION", "HF_TOKEN", "SM_NUM_GPUS", "MAX_INPUT_TOKENS", "MAX_TOTAL_TOKENS", "MAX_BATCH_TOTAL_TOKENS", "MAX_BATCH_PREFILL_TOKENS", "HF_MODEL_QUANTIZE", "MESSAGES_API_ENABLED"])) == 0
    error_message = "extra_environment must not set HF_MODEL_ID, HF_MODEL_REVISION, HF_TOKEN, SM_NUM_GPUS, MAX_*_TOKENS, HF_MODEL_QUANTIZE or MESSAGES_API_ENABLED: use the dedicated variables."
  }

  validation {
    condition     = !anytrue([for k in keys(var.extra_environment) : startswith(k, "SM_VLLM_")])
    error_message = "extra_environment must not set SM_VLLM_* variables: the module renders them from backend, vllm and the model variables."
  }
}

variable "container_startup_health_check_timeout_in_seconds" {
  description = "Seconds SageMaker waits for /ping after the container starts (60-3600). LLMs need minutes to load."
  type        = number
  nullable    = false

  validation {
    condition     = var.container_startup_health_check_timeout_in_seconds >= 60 && var.container_startup_health_check_timeout_in_seconds <= 3600
    error_message = "container_startup_health_check_timeout_in_seconds must be from 60 to 3600."
  }
}

variable "model_data_download_timeout_in_seconds" {
  description = "Seconds SageMaker allows to download model data to the instance (60-3600)."
  type        = number
  nullable    = false

  validation {
    condition     = var.model_data_download_timeout_in_seconds >= 60 && var.model_data_download_timeout_in_seconds <= 3600
    error_message = "model_data_download_timeout_in_seconds must be from 60 to 3600."
  }
}

variable "volume_size_in_gb" {
  description = "ML storage volume per instance (1-512 GB). null for instance types with local NVMe storage, such as ml.g5, which reject it."
  type        = number
  default     = null

  validation {
    condition     = var.volume_size_in_gb == null || (coalesce(var.volume_size_in_gb, 1) >= 1 && coalesce(var.volume_size_in_gb, 1) <= 512)
    error_message = "volume_size_in_gb must be null or from 1 to 512."
  }
}

variable "autoscaling" {
  description = "Target tracking on SageMakerVariantInvocationsPerInstance. enabled switches the scalable target and its policy together."
  type = object({
    enabled                         = optional(bool, false)
    min_capacity                    = optional(number, 1)
    max_capacity                    = optional(number, 2)
    target_invocations_per_instance = optional(number, 5)
    scale_in_cooldown               = optional(number, 600)
    scale_out_cooldown              = optional(number, 300)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.autoscaling.min_capacity >= 1 && var.autoscaling.max_capacity >= var.autoscaling.min_capacity
    error_message = "autoscaling needs min_capacity >= 1 and max_capacity >= min_capacity."
  }

  validation {
    condition     = var.autoscaling.target_invocations_per_instance > 0
    error_message = "autoscaling.target_invocations_per_instance must be > 0."
  }

  validation {
    condition     = var.autoscaling.scale_in_cooldown >= 0 && var.autoscaling.scale_out_cooldown >= 0
    error_message = "autoscaling cooldowns must be >= 0 seconds."
  }
}

variable "tags" {
  description = "Tags applied to every taggable resource."
  type        = map(string)
  default     = {}
  nullable    = false
}

variable "rollout" {
  description = "How UpdateEndpoint shifts traffic to a new config: mode none (SageMaker's default), all_at_once, canary or linear (blue/green); canary_percent (1-50), linear_step_percent (10-50), wait_interval_in_seconds between steps and termination_wait_in_seconds before the old fleet goes (0-3600 each)."
  type = object({
    mode                        = optional(string, "all_at_once")
    canary_percent              = optional(number, 10)
    linear_step_percent         = optional(number, 25)
    wait_interval_in_seconds    = optional(number, 300)
    termination_wait_in_seconds = optional(number, 0)
  })
  default  = {}
  nullable = false

  validation {
    condition     = contains(["none", "all_at_once", "canary", "linear"], var.rollout.mode)
    error_message = "rollout.mode must be one of: none, all_at_once, canary, linear."
  }

  validation {
    condition     = var.rollout.canary_percent >= 1 && var.rollout.canary_percent <= 50 && floor(var.rollout.canary_percent) == var.rollout.canary_percent
    error_message = "rollout.canary_percent must be a whole number from 1 to 50 (SageMaker caps a canary at half the fleet)."
  }

  validation {
    condition     = var.rollout.linear_step_percent >= 10 && var.rollout.linear_step_percent <= 50 && floor(var.rollout.linear_step_percent) == var.rollout.linear_step_percent
    error_message = "rollout.linear_step_percent must be a whole number from 10 to 50."
  }

  validation {
    condition     = alltrue([for v in [var.rollout.wait_interval_in_seconds, var.rollout.termination_wait_in_seconds] : v >= 0 && v <= 3600 && floor(v) == v])
    error_message = "rollout.wait_interval_in_seconds and rollout.termination_wait_in_seconds must be whole numbers from 0 to 3600."
  }
}

variable "alarms" {
  description = "CloudWatch alarms on the variant, each switchable; with a blue/green rollout they roll an update back. invocation_5xx (Sum of Invocation5XXErrors per period), latency_p99 (p99 ModelLatency, threshold in ms), setup_time (Maximum ModelSetupTime, threshold in seconds)."
  type = object({
    invocation_5xx_enabled       = optional(bool, true)
    invocation_5xx_threshold     = optional(number, 1)
    latency_p99_enabled          = optional(bool, true)
    latency_p99_threshold_ms     = optional(number, 30000)
    setup_time_enabled           = optional(bool, true)
    setup_time_threshold_seconds = optional(number, 900)
    period_seconds               = optional(number, 60)
    evaluation_periods           = optional(number, 3)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.alarms.invocation_5xx_threshold >= 1 && floor(var.alarms.invocation_5xx_threshold) == var.alarms.invocation_5xx_threshold
    error_message = "alarms.invocation_5xx_threshold must be a whole number >= 1 (errors per period)."
  }

  validation {
    condition     = var.alarms.latency_p99_threshold_ms > 0 && var.alarms.latency_p99_threshold_ms <= 3600000
    error_message = "alarms.latency_p99_threshold_ms must be > 0 and at most 3600000 (one hour)."
  }

  validation {
    condition     = var.alarms.setup_time_threshold_seconds > 0 && var.alarms.setup_time_threshold_seconds <= 3600
    error_message = "alarms.setup_time_threshold_seconds must be > 0 and at most 3600."
  }

  validation {
    condition     = contains([10, 30], var.alarms.period_seconds) || (var.alarms.period_seconds >= 60 && var.alarms.period_seconds % 60 == 0)
    error_message = "alarms.period_seconds must be 10, 30 or a multiple of 60 (CloudWatch's rule)."
  }

  validation {
    condition     = var.alarms.evaluation_periods >= 1 && var.alarms.evaluation_periods <= 10 && floor(var.alarms.evaluation_periods) == var.alarms.evaluation_periods
    error_message = "alarms.evaluation_periods must be a whole number from 1 to 10."
  }
}

variable "scheduled_scaling" {
  description = "Hold the variant at autoscaling.min_capacity outside working hours (from scale_in_cron) and restore the autoscaling bounds in them (from scale_out_cron), with Application Auto Scaling scheduled actions. Acts only with autoscaling.enabled. Crons are cron(minutes hours day-of-month month day-of-week year) in timezone (UTC or an IANA name)."
  type = object({
    enabled        = optional(bool, false)
    scale_in_cron  = optional(string, "cron(0 19 ? * MON-FRI *)")
    scale_out_cron = optional(string, "cron(0 7 ? * MON-FRI *)")
    timezone       = optional(string, "UTC")
  })
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for c in [var.scheduled_scaling.scale_in_cron, var.scheduled_scaling.scale_out_cron] : can(regex("^cron\\(\\S+ \\S+ \\S+ \\S+ \\S+ \\S+\\)$", c))])
    error_message = "scheduled_scaling crons must be cron(minutes hours day-of-month month day-of-week year), e.g. cron(0 19 ? * MON-FRI *)."
  }

  validation {
    condition     = can(regex("^(UTC|[A-Za-z_]+(/[A-Za-z0-9_+-]+)+)$", var.scheduled_scaling.timezone))
    error_message = "scheduled_scaling.timezone must be UTC or an IANA time zone such as Europe/Berlin."
  }
}

variable "async_inference" {
  description = "An asynchronous-inference endpoint config for generations past the 60-second real-time limit: results go to output_s3_uri, failures to failure_s3_uri; max_concurrent_invocations_per_instance (1-1000)."
  type = object({
    enabled                                 = optional(bool, false)
    output_s3_uri                           = optional(string)
    failure_s3_uri                          = optional(string)
    max_concurrent_invocations_per_instance = optional(number, 4)
  })
  default  = {}
  nullable = false

  validation {
    condition     = !var.async_inference.enabled || alltrue([for u in [var.async_inference.output_s3_uri, var.async_inference.failure_s3_uri] : can(regex("^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.*/$", u))])
    error_message = "async_inference needs output_s3_uri and failure_s3_uri as S3 prefixes ending in '/' when enabled."
  }

  validation {
    condition     = var.async_inference.max_concurrent_invocations_per_instance >= 1 && var.async_inference.max_concurrent_invocations_per_instance <= 1000 && floor(var.async_inference.max_concurrent_invocations_per_instance) == var.async_inference.max_concurrent_invocations_per_instance
    error_message = "async_inference.max_concurrent_invocations_per_instance must be a whole number from 1 to 1000."
  }
}
