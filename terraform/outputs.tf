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

output "rollout_mode" {
  description = "Traffic shifting of endpoint updates: none, all_at_once, canary or linear."
  value       = module.sagemaker_endpoint.rollout_mode
}

output "alarm_names" {
  description = "CloudWatch alarms on the variant that roll a blue/green update back."
  value       = module.sagemaker_endpoint.alarm_names
}

output "scheduled_action_names" {
  description = "Scheduled scale-in/scale-out actions (empty when the schedule is off)."
  value       = module.sagemaker_endpoint.scheduled_action_names
}

output "async_output_s3_uri" {
  description = "S3 prefix asynchronous inference writes results to, or null when it is off."
  value       = module.sagemaker_endpoint.async_output_s3_uri
}

output "async_failure_s3_uri" {
  description = "S3 prefix asynchronous inference writes errors to, or null when it is off."
  value       = module.sagemaker_endpoint.async_failure_s3_uri
}
