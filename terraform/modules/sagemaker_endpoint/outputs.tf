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

output "rollout_mode" {
  description = "Traffic shifting of endpoint updates: none, all_at_once, canary or linear."
  value       = var.rollout.mode
}

output "alarm_names" {
  description = "CloudWatch alarms on the variant (the enabled ones; they roll a blue/green update back)."
  value       = local.rollback_alarm_names
}

output "scheduled_action_names" {
  description = "Scale-in and scale-out scheduled actions, or an empty list when the schedule is off."
  value = concat(
    aws_appautoscaling_scheduled_action.scale_in[*].name,
    aws_appautoscaling_scheduled_action.scale_out[*].name,
  )
}

output "async_output_s3_uri" {
  description = "Where asynchronous inference writes its results, or null when async inference is off."
  value       = try(aws_sagemaker_endpoint_configuration.this.async_inference_config[0].output_config[0].s3_output_path, null)
}

output "async_failure_s3_uri" {
  description = "Where asynchronous inference writes its errors, or null when async inference is off."
  value       = try(aws_sagemaker_endpoint_configuration.this.async_inference_config[0].output_config[0].s3_failure_path, null)
}
