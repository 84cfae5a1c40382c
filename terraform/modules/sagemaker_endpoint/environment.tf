# The container environment, rendered per serving backend from the same inputs.
#
# tgi:  the Hugging Face TGI DLC's launcher reads HF_MODEL_ID, SM_NUM_GPUS and the token limits.
# vllm: the Hugging Face vLLM DLC's entrypoint turns every SM_VLLM_<NAME> into vLLM's --<name>
#       flag (aws/deep-learning-containers huggingface/vllm/build_artifacts/sagemaker_entrypoint.sh);
#       it reads no HF_MODEL_ID, so none is set, and the local runtime tells the two apart by
#       SM_VLLM_MODEL. HF_TOKEN is added in main.tf for both, and only when set.

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
