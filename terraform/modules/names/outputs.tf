output "artifact_bucket" {
  description = "Name of the model-artifact bucket: <prefix>-artifacts-<account>-<region>."
  value       = local.artifact_bucket
}

output "repository" {
  description = "Name of the ECR repository for custom inference images: <prefix>-inference."
  value       = local.repository
}
