variable "region" {
  description = "AWS region to deploy to, e.g. eu-central-1."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as eu-central-1."
  }
}

variable "name_prefix" {
  description = "Project prefix every resource name starts with (3-24 lowercase letters, digits or hyphens)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,22}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-24 lowercase letters, digits or hyphens, starting with a letter and ending with a letter or digit."
  }
}

variable "s3_use_path_style" {
  description = "Address S3 as endpoint/bucket instead of bucket.endpoint. true for the embedded local AWS, false for AWS."
  type        = bool
  default     = false
  nullable    = false
}

variable "tags" {
  description = "Tags applied to every taggable resource."
  type        = map(string)
  default     = {}
  nullable    = false
}

variable "execution_role_arn" {
  description = "ARN of the SageMaker execution role, from the bootstrap stack's outputs."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", var.execution_role_arn))
    error_message = "execution_role_arn must be an IAM role ARN; run the bootstrap stack first."
  }
}

variable "artifact_bucket_name" {
  description = "Name of the model-artifact bucket, from the bootstrap stack's outputs (the execution role may read only it)."
  type        = string
  nullable    = false
}

variable "force_destroy" {
  description = "Let destroy delete the bucket and repository while they still hold objects or images. true for throwaway stacks."
  type        = bool
  nullable    = false
}

variable "endpoint" {
  description = "The SageMaker endpoint; see modules/sagemaker_endpoint/variables.tf for each attribute's allowed values. The CLI renders every attribute from its settings (llm_twin/config/model.py owns the defaults); the optional ones are null or empty unless set, and tgi_image_tag is needed when image_uri is null. backend is tgi or vllm (image_uri required); the vllm_* attributes are read on vllm only."
  type = object({
    name                                              = string
    backend                                           = string
    instance_type                                     = string
    instance_count                                    = number
    image_uri                                         = optional(string)
    tgi_image_tag                                     = optional(string)
    hf_model_id                                       = string
    hf_model_revision                                 = optional(string)
    model_data_s3_uri                                 = optional(string)
    num_gpus                                          = number
    max_input_tokens                                  = number
    max_total_tokens                                  = number
    max_batch_total_tokens                            = number
    max_batch_prefill_tokens                          = number
    vllm_max_num_seqs                                 = number
    vllm_gpu_memory_utilization                       = number
    quantize                                          = optional(string)
    messages_api_enabled                              = bool
    extra_environment                                 = map(string)
    container_startup_health_check_timeout_in_seconds = number
    model_data_download_timeout_in_seconds            = number
    volume_size_in_gb                                 = optional(number)
  })
  nullable = false

  validation {
    condition     = can(regex("^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$", var.endpoint.name))
    error_message = "endpoint.name must be 1-63 letters, digits or hyphens, starting and ending with a letter or digit."
  }

  validation {
    condition     = var.endpoint.instance_count >= 1 && var.endpoint.instance_count <= 100 && floor(var.endpoint.instance_count) == var.endpoint.instance_count
    error_message = "endpoint.instance_count must be a whole number from 1 to 100 (llm-twin's ceiling against typos)."
  }

  validation {
    condition     = var.endpoint.num_gpus >= 1 && var.endpoint.num_gpus <= 8 && floor(var.endpoint.num_gpus) == var.endpoint.num_gpus
    error_message = "endpoint.num_gpus must be a whole number from 1 to 8."
  }

  validation {
    condition     = var.endpoint.max_input_tokens >= 1 && var.endpoint.max_input_tokens <= 16777216 && floor(var.endpoint.max_input_tokens) == var.endpoint.max_input_tokens
    error_message = "endpoint.max_input_tokens must be a whole number from 1 to 16777216."
  }

  validation {
    condition     = var.endpoint.max_total_tokens >= 2 && var.endpoint.max_total_tokens <= 16777216 && floor(var.endpoint.max_total_tokens) == var.endpoint.max_total_tokens
    error_message = "endpoint.max_total_tokens must be a whole number from 2 to 16777216."
  }

  validation {
    condition     = var.endpoint.max_batch_total_tokens >= 2 && var.endpoint.max_batch_total_tokens <= 16777216 && floor(var.endpoint.max_batch_total_tokens) == var.endpoint.max_batch_total_tokens
    error_message = "endpoint.max_batch_total_tokens must be a whole number from 2 to 16777216."
  }

  validation {
    condition     = var.endpoint.max_batch_prefill_tokens >= 1 && var.endpoint.max_batch_prefill_tokens <= 16777216 && floor(var.endpoint.max_batch_prefill_tokens) == var.endpoint.max_batch_prefill_tokens
    error_message = "endpoint.max_batch_prefill_tokens must be a whole number from 1 to 16777216."
  }

  validation {
    condition     = contains(["tgi", "vllm"], var.endpoint.backend)
    error_message = "endpoint.backend must be one of: tgi, vllm."
  }

  validation {
    condition     = var.endpoint.vllm_max_num_seqs >= 1 && var.endpoint.vllm_max_num_seqs <= 2048 && floor(var.endpoint.vllm_max_num_seqs) == var.endpoint.vllm_max_num_seqs
    error_message = "endpoint.vllm_max_num_seqs must be a whole number from 1 to 2048."
  }

  validation {
    condition     = var.endpoint.vllm_gpu_memory_utilization > 0 && var.endpoint.vllm_gpu_memory_utilization <= 1
    error_message = "endpoint.vllm_gpu_memory_utilization must be > 0 and at most 1."
  }

  validation {
    condition     = var.endpoint.container_startup_health_check_timeout_in_seconds >= 60 && var.endpoint.container_startup_health_check_timeout_in_seconds <= 3600 && floor(var.endpoint.container_startup_health_check_timeout_in_seconds) == var.endpoint.container_startup_health_check_timeout_in_seconds
    error_message = "endpoint.container_startup_health_check_timeout_in_seconds must be a whole number from 60 to 3600."
  }

  validation {
    condition     = var.endpoint.model_data_download_timeout_in_seconds >= 60 && var.endpoint.model_data_download_timeout_in_seconds <= 3600 && floor(var.endpoint.model_data_download_timeout_in_seconds) == var.endpoint.model_data_download_timeout_in_seconds
    error_message = "endpoint.model_data_download_timeout_in_seconds must be a whole number from 60 to 3600."
  }
}

variable "hf_token" {
  description = "Hugging Face token for gated models. Set it as TF_VAR_hf_token in the environment, never in a tfvars file."
  type        = string
  default     = null
  sensitive   = true
}

variable "autoscaling" {
  description = "Target tracking on invocations per instance: enabled, min_capacity, max_capacity, target_invocations_per_instance, scale_in_cooldown, scale_out_cooldown."
  type = object({
    enabled                         = bool
    min_capacity                    = number
    max_capacity                    = number
    target_invocations_per_instance = number
    scale_in_cooldown               = number
    scale_out_cooldown              = number
  })
  nullable = false

  validation {
    condition     = var.autoscaling.min_capacity >= 1 && var.autoscaling.min_capacity <= 100 && floor(var.autoscaling.min_capacity) == var.autoscaling.min_capacity
    error_message = "autoscaling.min_capacity must be a whole number from 1 to 100 (llm-twin's ceiling against typos)."
  }

  validation {
    condition     = var.autoscaling.max_capacity >= 1 && var.autoscaling.max_capacity <= 100 && floor(var.autoscaling.max_capacity) == var.autoscaling.max_capacity
    error_message = "autoscaling.max_capacity must be a whole number from 1 to 100 (llm-twin's ceiling against typos)."
  }

  validation {
    condition     = var.autoscaling.target_invocations_per_instance > 0 && var.autoscaling.target_invocations_per_instance <= 100000
    error_message = "autoscaling.target_invocations_per_instance must be a number > 0 and at most 100000."
  }

  validation {
    condition     = var.autoscaling.scale_in_cooldown >= 0 && var.autoscaling.scale_in_cooldown <= 86400 && floor(var.autoscaling.scale_in_cooldown) == var.autoscaling.scale_in_cooldown
    error_message = "autoscaling.scale_in_cooldown must be a whole number from 0 to 86400."
  }

  validation {
    condition     = var.autoscaling.scale_out_cooldown >= 0 && var.autoscaling.scale_out_cooldown <= 86400 && floor(var.autoscaling.scale_out_cooldown) == var.autoscaling.scale_out_cooldown
    error_message = "autoscaling.scale_out_cooldown must be a whole number from 0 to 86400."
  }
}

variable "ecr" {
  description = "The custom-image repository: untagged_image_expiry_days (1-3650) and max_image_count (1-1000)."
  type = object({
    untagged_image_expiry_days = optional(number, 7)
    max_image_count            = optional(number, 20)
  })
  default  = {}
  nullable = false
}

variable "rollout" {
  description = "Blue/green traffic shifting of endpoint updates: mode (none, all_at_once, canary, linear), canary_percent, linear_step_percent, wait_interval_in_seconds, termination_wait_in_seconds; see modules/sagemaker_endpoint."
  type = object({
    mode                        = string
    canary_percent              = number
    linear_step_percent         = number
    wait_interval_in_seconds    = number
    termination_wait_in_seconds = number
  })
  nullable = false

  validation {
    condition     = var.rollout.canary_percent >= 1 && var.rollout.canary_percent <= 50 && floor(var.rollout.canary_percent) == var.rollout.canary_percent
    error_message = "rollout.canary_percent must be a whole number from 1 to 50."
  }

  validation {
    condition     = var.rollout.linear_step_percent >= 10 && var.rollout.linear_step_percent <= 50 && floor(var.rollout.linear_step_percent) == var.rollout.linear_step_percent
    error_message = "rollout.linear_step_percent must be a whole number from 10 to 50."
  }

  validation {
    condition     = var.rollout.wait_interval_in_seconds >= 0 && var.rollout.wait_interval_in_seconds <= 3600 && floor(var.rollout.wait_interval_in_seconds) == var.rollout.wait_interval_in_seconds
    error_message = "rollout.wait_interval_in_seconds must be a whole number from 0 to 3600."
  }

  validation {
    condition     = var.rollout.termination_wait_in_seconds >= 0 && var.rollout.termination_wait_in_seconds <= 3600 && floor(var.rollout.termination_wait_in_seconds) == var.rollout.termination_wait_in_seconds
    error_message = "rollout.termination_wait_in_seconds must be a whole number from 0 to 3600."
  }
}

variable "alarms" {
  description = "CloudWatch alarms that roll an update back, each switchable: invocation_5xx_*, latency_p99_* (ms), setup_time_* (s), period_seconds, evaluation_periods (null: the module's defaults); see modules/sagemaker_endpoint."
  type = object({
    invocation_5xx_enabled       = bool
    invocation_5xx_threshold     = number
    latency_p99_enabled          = bool
    latency_p99_threshold_ms     = number
    setup_time_enabled           = bool
    setup_time_threshold_seconds = number
    period_seconds               = optional(number)
    evaluation_periods           = optional(number)
  })
  nullable = false

  validation {
    condition     = var.alarms.invocation_5xx_threshold >= 1 && var.alarms.invocation_5xx_threshold <= 100000 && floor(var.alarms.invocation_5xx_threshold) == var.alarms.invocation_5xx_threshold
    error_message = "alarms.invocation_5xx_threshold must be a whole number from 1 to 100000."
  }

  validation {
    condition     = var.alarms.latency_p99_threshold_ms >= 1 && var.alarms.latency_p99_threshold_ms <= 3600000 && floor(var.alarms.latency_p99_threshold_ms) == var.alarms.latency_p99_threshold_ms
    error_message = "alarms.latency_p99_threshold_ms must be a whole number from 1 to 3600000."
  }

  validation {
    condition     = var.alarms.setup_time_threshold_seconds >= 1 && var.alarms.setup_time_threshold_seconds <= 3600 && floor(var.alarms.setup_time_threshold_seconds) == var.alarms.setup_time_threshold_seconds
    error_message = "alarms.setup_time_threshold_seconds must be a whole number from 1 to 3600."
  }
}

variable "scheduled_scaling" {
  description = "Scale in to autoscaling.min_capacity outside working hours: enabled, scale_in_cron, scale_out_cron, timezone. Acts only with autoscaling.enabled."
  type = object({
    enabled        = bool
    scale_in_cron  = string
    scale_out_cron = string
    timezone       = string
  })
  nullable = false
}

variable "async_inference" {
  description = "Asynchronous inference, writing to s3://<artifact bucket>/async/output/ (errors to async/failure/): enabled, max_concurrent_invocations_per_instance (1-1000)."
  type = object({
    enabled                                 = bool
    max_concurrent_invocations_per_instance = number
  })
  nullable = false

  validation {
    condition     = var.async_inference.max_concurrent_invocations_per_instance >= 1 && var.async_inference.max_concurrent_invocations_per_instance <= 1000 && floor(var.async_inference.max_concurrent_invocations_per_instance) == var.async_inference.max_concurrent_invocations_per_instance
    error_message = "async_inference.max_concurrent_invocations_per_instance must be a whole number from 1 to 1000."
  }
}
