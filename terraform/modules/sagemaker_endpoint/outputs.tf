output "endpoint_name" {
  description = "Name of the SageMaker endpoint to invoke."
  value       = aws_sagemaker_endpoint.this.name
}

output "endpoint_arn" {
  description = "ARN of the SageMaker endpoint."
  value       = aws_sagemaker_endpoint.this.arn
}

output "endpoint_config_name" {
  description = "Name of the endpoint configuration currently in use."
  value       = aws_sagemaker_endpoint_configuration.this.name
}

output "model_name" {
  description = "Name of the SageMaker model currently in use."
  value       = aws_sagemaker_model.this.name
}

output "image_uri" {
  description = "Container image the model runs."
  value       = local.image
}

output "autoscaling_target_resource_id" {
  description = "Application Auto Scaling resource id, or null when autoscaling is off."
  value       = try(aws_appautoscaling_target.this[0].resource_id, null)
}

output "autoscaling_policy_arn" {
  description = "ARN of the target-tracking policy, or null when autoscaling is off."
  value       = try(aws_appautoscaling_policy.invocations_per_instance[0].arn, null)
}
