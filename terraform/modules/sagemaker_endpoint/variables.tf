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
  description = "Explicit container image URI. null resolves the Hugging Face TGI DLC for the region from tgi_image_tag."
  type        = string
  default     = null

  validation {
    condition     = var.image_uri == null || can(regex("^[^\\s:]+(:[^\\s]+)?$", var.image_uri))
    error_message = "image_uri must be null or an image reference such as <account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>."
  }
}

variable "tgi_image_tag" {
  description = "Full tag of the huggingface-pytorch-tgi-inference DLC, e.g. 2.7.0-tgi3.3.6-gpu-py311-cu124-ubuntu22.04. Used when image_uri is null."
  type        = string
  default     = "2.7.0-tgi3.3.6-gpu-py311-cu124-ubuntu22.04"
  nullable    = false

  validation {
    condition     = can(regex("^[0-9.]+-tgi[0-9.]+-(gpu|cpu)-py[0-9]+(-[a-z0-9.]+)*$", var.tgi_image_tag))
    error_message = "tgi_image_tag must be a full TGI DLC tag like 2.7.0-tgi3.3.6-gpu-py311-cu124-ubuntu22.04."
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
  default     = "ml.g5.2xlarge"
  nullable    = false

  validation {
    condition     = can(regex("^ml\\.[a-z0-9]+\\.[a-z0-9]+$", var.instance_type))
    error_message = "instance_type must be a SageMaker instance type starting with 'ml.', e.g. ml.g5.2xlarge."
  }
}

variable "instance_count" {
  description = "Instances the variant starts with (>= 1). With autoscaling on, min_capacity is used instead."
  type        = number
  default     = 1
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
  description = "SM_NUM_GPUS: GPUs TGI shards the model across (1-8); must match the instance type."
  type        = number
  default     = 1
  nullable    = false

  validation {
    condition     = var.num_gpus >= 1 && var.num_gpus <= 8 && floor(var.num_gpus) == var.num_gpus
    error_message = "num_gpus must be a whole number from 1 to 8."
  }
}

variable "token_limits" {
  description = "TGI token limits: max_input_tokens < max_total_tokens <= max_batch_total_tokens, and max_batch_prefill_tokens >= max_input_tokens."
  type = object({
    max_input_tokens         = number
    max_total_tokens         = number
    max_batch_total_tokens   = number
    max_batch_prefill_tokens = number
  })
  default = {
    max_input_tokens         = 2048
    max_total_tokens         = 4096
    max_batch_total_tokens   = 8192
    max_batch_prefill_tokens = 2048
  }
  nullable = false

  validation {
    condition     = alltrue([for v in values(var.token_limits) : v >= 1 && floor(v) == v])
    error_message = "token_limits values must be whole numbers >= 1."
  }

  validation {
    condition     = var.token_limits.max_total_tokens > var.token_limits.max_input_tokens
    error_message = "token_limits.max_total_tokens must be greater than max_input_tokens."
  }

  validation {
    condition     = var.token_limits.max_batch_prefill_tokens >= var.token_limits.max_input_tokens
    error_message = "token_limits.max_batch_prefill_tokens must be >= max_input_tokens."
  }

  validation {
    condition     = var.token_limits.max_batch_total_tokens >= var.token_limits.max_total_tokens
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
  default     = false
  nullable    = false
}

variable "extra_environment" {
  description = "Additional container environment variables. Keys must not repeat the ones this module sets."
  type        = map(string)
  default     = {}
  nullable    = false

  validation {
    condition     = length(setintersection(keys(var.extra_environment), ["HF_MODEL_ID", "HF_TOKEN", "SM_NUM_GPUS", "MAX_INPUT_TOKENS", "MAX_TOTAL_TOKENS", "MAX_BATCH_TOTAL_TOKENS", "MAX_BATCH_PREFILL_TOKENS", "HF_MODEL_QUANTIZE", "MESSAGES_API_ENABLED"])) == 0
    error_message = "extra_environment must not set HF_MODEL_ID, HF_TOKEN, SM_NUM_GPUS, MAX_*_TOKENS, HF_MODEL_QUANTIZE or MESSAGES_API_ENABLED: use the dedicated variables."
  }
}

variable "container_startup_health_check_timeout_in_seconds" {
  description = "Seconds SageMaker waits for /ping after the container starts (60-3600). LLMs need minutes to load."
  type        = number
  default     = 900
  nullable    = false

  validation {
    condition     = var.container_startup_health_check_timeout_in_seconds >= 60 && var.container_startup_health_check_timeout_in_seconds <= 3600
    error_message = "container_startup_health_check_timeout_in_seconds must be from 60 to 3600."
  }
}

variable "model_data_download_timeout_in_seconds" {
  description = "Seconds SageMaker allows to download model data to the instance (60-3600)."
  type        = number
  default     = 1200
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
