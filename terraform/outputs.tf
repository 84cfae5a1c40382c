output "artifact_bucket_name" {
  description = "Bucket holding model artifacts (uncompressed safetensors under models/)."
  value       = module.s3.bucket_name
}

output "ecr_repository_url" {
  description = "Repository for custom inference images."
  value       = module.ecr.repository_url
}

output "endpoint_name" {
  description = "Name of the SageMaker endpoint to invoke."
  value       = module.sagemaker_endpoint.endpoint_name
}

output "endpoint_config_name" {
  description = "Endpoint configuration currently in use."
  value       = module.sagemaker_endpoint.endpoint_config_name
}

output "model_name" {
  description = "SageMaker model currently in use."
  value       = module.sagemaker_endpoint.model_name
}

output "image_uri" {
  description = "Container image the endpoint runs."
  value       = module.sagemaker_endpoint.image_uri
}

output "autoscaling_target_resource_id" {
  description = "Application Auto Scaling resource id, or null when autoscaling is off."
  value       = module.sagemaker_endpoint.autoscaling_target_resource_id
}
