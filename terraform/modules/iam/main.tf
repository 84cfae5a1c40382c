# Two identities, one file each: execution_role.tf (what the endpoint's containers run
# as) and deployer.tf (the narrow user the main stack is applied with).

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition = data.aws_partition.current.partition
  region    = data.aws_region.current.name
  account   = data.aws_caller_identity.current.account_id
  prefix    = var.name_prefix

  artifact_bucket_arn = "arn:${local.partition}:s3:::${var.artifact_bucket_name}"
  repository_arn      = "arn:${local.partition}:ecr:${local.region}:${local.account}:repository/${var.repository_name}"

  # Names SageMaker or Terraform generate (name_prefix, content hashes) can only be
  # matched by pattern, and "<prefix>-*" also matches "<prefix>-staging-*": the project
  # tag, which every resource of the stacks carries, tells the two apart.
  project_tag = { key = var.project_tag_key, value = local.prefix }
  sagemaker_arns = {
    for kind in ["model", "endpoint-config", "endpoint"] :
    kind => "arn:${local.partition}:sagemaker:${local.region}:${local.account}:${kind}/${local.prefix}-*"
  }
  alarm_arn = "arn:${local.partition}:cloudwatch:${local.region}:${local.account}:alarm:${local.prefix}-*"
  # Target tracking names its alarms after the scalable target; Application Auto Scaling
  # creates them untagged, so only the name can scope them.
  target_tracking_alarm_arn = "arn:${local.partition}:cloudwatch:${local.region}:${local.account}:alarm:TargetTracking-endpoint/${local.prefix}-*"
  scalable_target_arn       = "arn:${local.partition}:application-autoscaling:${local.region}:${local.account}:scalable-target/*"
  sagemaker_log_group_arn   = "arn:${local.partition}:logs:${local.region}:${local.account}:log-group:/aws/sagemaker/Endpoints/${local.prefix}-*"
  sagemaker_log_stream_arn  = "${local.sagemaker_log_group_arn}:log-stream:*"
  autoscaling_slr_service   = "sagemaker.application-autoscaling.amazonaws.com"

  # Built from the name rather than read from the role, so the deployer's policy is
  # fully known at plan time: a reviewer (and tests/terraform_code) sees what it grants.
  execution_role_name = "${local.prefix}-sagemaker-execution"
  execution_role_arn  = "arn:${local.partition}:iam::${local.account}:role/${local.execution_role_name}"

  state_bucket_arn = try("arn:${local.partition}:s3:::${var.terraform_state.bucket}", null)
}
