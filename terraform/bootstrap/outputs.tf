output "execution_role_arn" {
  description = "ARN of the SageMaker execution role, read by the main stack."
  value       = module.iam.execution_role_arn
}

output "artifact_bucket_name" {
  description = "Name the main stack gives the artifact bucket."
  value       = module.names.artifact_bucket
}

output "deployer_user_arn" {
  description = "ARN of the deployer user; the CLI checks the main stack runs as it."
  value       = module.iam.deployer_user_arn
}

output "deployer_access_key_id" {
  description = "Access key id of the deployer."
  value       = module.iam.deployer_access_key_id
}

output "deployer_secret_access_key" {
  description = "Secret key of the deployer. Sensitive: written to a 0600 file, never printed."
  value       = module.iam.deployer_secret_access_key
  sensitive   = true
}
