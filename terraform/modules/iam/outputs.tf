output "execution_role_arn" {
  description = "ARN of the SageMaker execution role."
  value       = aws_iam_role.execution.arn
}

output "execution_role_name" {
  description = "Name of the SageMaker execution role."
  value       = aws_iam_role.execution.name
}

output "deployer_user_name" {
  description = "Name of the deployer IAM user."
  value       = aws_iam_user.deployer.name
}

output "deployer_user_arn" {
  description = "ARN of the deployer IAM user; the CLI compares the caller with it."
  value       = aws_iam_user.deployer.arn
}

output "deployer_policy_arn" {
  description = "ARN of the deployer's managed policy for SageMaker, S3, ECR and the state."
  value       = aws_iam_policy.deployer.arn
}

output "deployer_operations_policy_arn" {
  description = "ARN of the deployer's second managed policy: scaling, alarms, metrics, quotas and logs."
  value       = aws_iam_policy.deployer_operations.arn
}

output "deployer_group_name" {
  description = "Name of the IAM group that carries the deployer's policy; add further deployers to it."
  value       = aws_iam_group.deployers.name
}

output "deployer_access_key_id" {
  description = "Access key id of the deployer, or null when create_access_key is false."
  value       = try(aws_iam_access_key.deployer[0].id, null)
}

output "deployer_secret_access_key" {
  description = "Secret access key of the deployer. Sensitive: the CLI writes it to a 0600 file and never prints it."
  value       = try(aws_iam_access_key.deployer[0].secret, null)
  sensitive   = true
}
