# Stage 2, applied with the deployer's credentials: the artifact bucket, the image
# repository and the endpoint (TGI or vLLM). Every name starts with var.name_prefix, the only
# names the deployer's policy lets it touch.

provider "aws" {
  region            = var.region
  s3_use_path_style = var.s3_use_path_style
}

data "aws_caller_identity" "current" {}

module "names" {
  source = "./modules/names"

  name_prefix = var.name_prefix
  account_id  = data.aws_caller_identity.current.account_id
  region      = var.region
}

module "s3" {
  source = "./modules/s3"

  bucket_name   = var.artifact_bucket_name
  force_destroy = var.force_destroy

  tags = var.tags
}

module "ecr" {
  source = "./modules/ecr"

  name                       = module.names.repository
  force_delete               = var.force_destroy
  untagged_image_expiry_days = var.ecr.untagged_image_expiry_days
  max_image_count            = var.ecr.max_image_count

  tags = var.tags
}

module "sagemaker_endpoint" {
  source = "./modules/sagemaker_endpoint"

  name               = var.endpoint.name
  backend            = var.endpoint.backend
  execution_role_arn = var.execution_role_arn
  image_uri          = var.endpoint.image_uri
  tgi_image_tag      = var.endpoint.tgi_image_tag
  hf_model_id        = var.endpoint.hf_model_id
  hf_model_revision  = var.endpoint.hf_model_revision
  hf_token           = var.hf_token
  model_data_s3_uri  = var.endpoint.model_data_s3_uri
  instance_type      = var.endpoint.instance_type
  instance_count     = var.endpoint.instance_count
  num_gpus           = var.endpoint.num_gpus

  token_limits = {
    max_input_tokens         = var.endpoint.max_input_tokens
    max_total_tokens         = var.endpoint.max_total_tokens
    max_batch_total_tokens   = var.endpoint.max_batch_total_tokens
    max_batch_prefill_tokens = var.endpoint.max_batch_prefill_tokens
  }

  vllm = {
    max_num_seqs           = var.endpoint.vllm_max_num_seqs
    gpu_memory_utilization = var.endpoint.vllm_gpu_memory_utilization
  }

  quantize             = var.endpoint.quantize
  messages_api_enabled = var.endpoint.messages_api_enabled
  extra_environment    = var.endpoint.extra_environment

  container_startup_health_check_timeout_in_seconds = var.endpoint.container_startup_health_check_timeout_in_seconds
  model_data_download_timeout_in_seconds            = var.endpoint.model_data_download_timeout_in_seconds
  volume_size_in_gb                                 = var.endpoint.volume_size_in_gb

  autoscaling       = var.autoscaling
  scheduled_scaling = var.scheduled_scaling
  rollout           = var.rollout
  alarms            = var.alarms

  async_inference = merge(var.async_inference, {
    output_s3_uri  = "s3://${module.s3.bucket_name}/async/output/"
    failure_s3_uri = "s3://${module.s3.bucket_name}/async/failure/"
  })

  tags = var.tags
}
