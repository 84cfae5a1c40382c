# The container environment, rendered per serving backend from the same inputs.
#
# tgi:  the Hugging Face TGI DLC's launcher reads HF_MODEL_ID, SM_NUM_GPUS and the token limits.
# vllm: the Hugging Face vLLM DLC's entrypoint turns every SM_VLLM_<NAME> into vLLM's --<name>
#       flag (aws/deep-learning-containers huggingface/vllm/build_artifacts/sagemaker_entrypoint.sh);
#       it reads no HF_MODEL_ID, so none is set, and the local runtime tells the two apart by
#       SM_VLLM_MODEL. HF_TOKEN is added in main.tf for both, and only when set.

variable "backend" {
  description = "The serving container: tgi (Hugging Face TGI DLC, told by HF_MODEL_ID, SM_NUM_GPUS and the token limits) or vllm (Hugging Face vLLM DLC, told by SM_VLLM_* variables; needs image_uri)."
  type        = string
  nullable    = false

  validation {
    condition     = contains(["tgi", "vllm"], var.backend)
    error_message = "backend must be one of: tgi, vllm."
  }
}

variable "vllm" {
  description = "vLLM's engine knobs, read when backend is vllm: max_num_seqs (1-2048; sequences batched at most) and gpu_memory_utilization (> 0, at most 1; the share of each GPU vLLM may take). Its max model length is token_limits.max_total_tokens."
  type = object({
    max_num_seqs           = number
    gpu_memory_utilization = number
  })
  nullable = false

  validation {
    condition     = var.vllm.max_num_seqs >= 1 && var.vllm.max_num_seqs <= 2048 && floor(var.vllm.max_num_seqs) == var.vllm.max_num_seqs
    error_message = "vllm.max_num_seqs must be a whole number from 1 to 2048 (vLLM refuses more sequences than the 2048 tokens it batches a step by default)."
  }

  validation {
    condition     = var.vllm.gpu_memory_utilization > 0 && var.vllm.gpu_memory_utilization <= 1
    error_message = "vllm.gpu_memory_utilization must be > 0 and at most 1 (a share of each GPU's memory)."
  }
}

locals {
  tgi_environment = merge(
    {
      HF_MODEL_ID              = var.hf_model_id
      SM_NUM_GPUS              = tostring(var.num_gpus)
      MAX_INPUT_TOKENS         = tostring(var.token_limits.max_input_tokens)
      MAX_TOTAL_TOKENS         = tostring(var.token_limits.max_total_tokens)
      MAX_BATCH_TOTAL_TOKENS   = tostring(var.token_limits.max_batch_total_tokens)
      MAX_BATCH_PREFILL_TOKENS = tostring(var.token_limits.max_batch_prefill_tokens)
    },
    var.hf_model_revision == null ? {} : { HF_MODEL_REVISION = var.hf_model_revision },
    var.quantize == null ? {} : { HF_MODEL_QUANTIZE = var.quantize },
    var.messages_api_enabled ? { MESSAGES_API_ENABLED = "true" } : {},
  )

  vllm_environment = merge(
    {
      # Mounted model data is served from where SageMaker puts it; else vLLM downloads the Hub id.
      SM_VLLM_MODEL                  = var.model_data_s3_uri == null ? var.hf_model_id : "/opt/ml/model"
      SM_VLLM_TENSOR_PARALLEL_SIZE   = tostring(var.num_gpus)
      SM_VLLM_MAX_MODEL_LEN          = tostring(var.token_limits.max_total_tokens)
      SM_VLLM_MAX_NUM_SEQS           = tostring(var.vllm.max_num_seqs)
      SM_VLLM_GPU_MEMORY_UTILIZATION = tostring(var.vllm.gpu_memory_utilization)
      # What answers' "model" field says, whichever path the weights came from.
      SM_VLLM_SERVED_MODEL_NAME = var.hf_model_id
      # SageMaker's /ping reaches the container from outside it, so vLLM must not bind loopback only.
      SM_VLLM_HOST = "0.0.0.0"
    },
    var.hf_model_revision == null ? {} : { SM_VLLM_REVISION = var.hf_model_revision },
  )

  # tomap: the two objects have different attributes, and a map is what the container takes.
  backend_environment = {
    tgi  = tomap(local.tgi_environment)
    vllm = tomap(local.vllm_environment)
  }

  environment = merge(var.extra_environment, local.backend_environment[var.backend])
}
