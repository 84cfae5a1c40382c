data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition = data.aws_partition.current.partition
  region    = data.aws_region.current.name
  account   = data.aws_caller_identity.current.account_id
  prefix    = var.name_prefix

  bucket_arn = "arn:${local.partition}:s3:::${var.artifact_bucket_name}"

  sagemaker_arns = [
    for kind in ["model", "endpoint-config", "endpoint"] :
    "arn:${local.partition}:sagemaker:${local.region}:${local.account}:${kind}/${local.prefix}-*"
  ]
  project_repository_arn = "arn:${local.partition}:ecr:${local.region}:${local.account}:repository/${local.prefix}-*"
  project_bucket_arn     = "arn:${local.partition}:s3:::${local.prefix}-*"
  project_alarm_arns = [
    "arn:${local.partition}:cloudwatch:${local.region}:${local.account}:alarm:${local.prefix}-*",
    # Target-tracking policies name their alarms after the scalable target.
    "arn:${local.partition}:cloudwatch:${local.region}:${local.account}:alarm:TargetTracking-endpoint/${local.prefix}-*",
  ]
  sagemaker_log_group_arn = "arn:${local.partition}:logs:${local.region}:${local.account}:log-group:/aws/sagemaker/Endpoints/${local.prefix}-*"
  autoscaling_slr_service = "sagemaker.application-autoscaling.amazonaws.com"

  # Built from the name rather than read from the role, so the deployer's policy is
  # fully known at plan time: a reviewer (and tests/terraform_code) sees what it grants.
  execution_role_name = "${local.prefix}-sagemaker-execution"
  execution_role_arn  = "arn:${local.partition}:iam::${local.account}:role/${local.execution_role_name}"
}

################################################################################
# SageMaker execution role: what the endpoint's containers run as
################################################################################

data "aws_iam_policy_document" "execution_trust" {
  statement {
    sid     = "SageMakerAssumesRole"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["sagemaker.amazonaws.com"]
    }

    # Confused-deputy guard: only SageMaker acting for this account.
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

resource "aws_iam_role" "execution" {
  name                 = local.execution_role_name
  description          = "Assumed by SageMaker to run the ${local.prefix} TGI endpoint."
  assume_role_policy   = data.aws_iam_policy_document.execution_trust.json
  max_session_duration = 3600

  tags = var.tags
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "ReadArtifactBucket"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [local.bucket_arn]
  }

  statement {
    sid       = "ReadArtifactObjects"
    actions   = ["s3:GetObject"]
    resources = ["${local.bucket_arn}/*"]
  }

  statement {
    sid = "WriteAsyncInferenceResults"
    # Asynchronous inference writes each answer (or its error) under async/ only.
    actions   = ["s3:PutObject", "s3:AbortMultipartUpload"]
    resources = ["${local.bucket_arn}/async/*"]
  }

  statement {
    sid     = "PullImages"
    actions = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
    resources = concat(
      [local.project_repository_arn],
      # AWS's Deep Learning Containers live in AWS-owned accounts that differ by region.
      [for name in var.image_repository_names : "arn:${local.partition}:ecr:${local.region}:*:repository/${name}"],
    )
  }

  statement {
    sid = "EcrLogin"
    # GetAuthorizationToken has no resource type: AWS accepts only "*".
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid       = "WriteEndpointLogs"
    actions   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = [local.sagemaker_log_group_arn, "${local.sagemaker_log_group_arn}:log-stream:*"]
  }

  statement {
    sid = "PutEndpointMetrics"
    # PutMetricData has no resource type: AWS accepts only "*", so the namespace is pinned instead.
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"]

    condition {
      test     = "StringLike"
      variable = "cloudwatch:namespace"
      values   = ["/aws/sagemaker/*", "AWS/SageMaker"]
    }
  }
}

resource "aws_iam_policy" "execution" {
  name        = "${local.prefix}-sagemaker-execution"
  description = "Least privilege for the ${local.prefix} endpoint: read its artifact bucket, pull images, write logs and metrics."
  policy      = data.aws_iam_policy_document.execution.json

  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.name
  policy_arn = aws_iam_policy.execution.arn
}

################################################################################
# Deployer: the narrow identity the main stack is applied with
################################################################################

resource "aws_iam_user" "deployer" {
  name = "${local.prefix}-deployer"

  tags = var.tags
}

resource "aws_iam_access_key" "deployer" {
  count = var.create_access_key ? 1 : 0

  user = aws_iam_user.deployer.name
}

data "aws_iam_policy_document" "deployer" {
  statement {
    sid = "ManageProjectSageMaker"
    actions = [
      "sagemaker:AddTags",
      "sagemaker:CreateEndpoint",
      "sagemaker:CreateEndpointConfig",
      "sagemaker:CreateModel",
      "sagemaker:DeleteEndpoint",
      "sagemaker:DeleteEndpointConfig",
      "sagemaker:DeleteModel",
      "sagemaker:DeleteTags",
      "sagemaker:DescribeEndpoint",
      "sagemaker:DescribeEndpointConfig",
      "sagemaker:DescribeModel",
      "sagemaker:InvokeEndpoint",
      "sagemaker:InvokeEndpointAsync",
      "sagemaker:InvokeEndpointWithResponseStream",
      "sagemaker:ListTags",
      "sagemaker:UpdateEndpoint",
      "sagemaker:UpdateEndpointWeightsAndCapacities",
    ]
    resources = local.sagemaker_arns
  }

  statement {
    sid     = "PassExecutionRoleToSageMakerOnly"
    actions = ["iam:PassRole"]
    # Only the execution role, and only to SageMaker.
    resources = [local.execution_role_arn]

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["sagemaker.amazonaws.com"]
    }
  }

  statement {
    sid = "ManageProjectBuckets"
    actions = [
      "s3:CreateBucket",
      "s3:DeleteBucket",
      "s3:DeleteBucketPolicy",
      "s3:GetAccelerateConfiguration",
      "s3:GetBucketAcl",
      "s3:GetBucketCORS",
      "s3:GetBucketLocation",
      "s3:GetBucketLogging",
      "s3:GetBucketNotification",
      "s3:GetBucketObjectLockConfiguration",
      "s3:GetBucketOwnershipControls",
      "s3:GetBucketPolicy",
      "s3:GetBucketPublicAccessBlock",
      "s3:GetBucketRequestPayment",
      "s3:GetBucketTagging",
      "s3:GetBucketVersioning",
      "s3:GetBucketWebsite",
      "s3:GetEncryptionConfiguration",
      "s3:GetLifecycleConfiguration",
      "s3:GetReplicationConfiguration",
      "s3:ListBucket",
      "s3:ListBucketMultipartUploads",
      "s3:ListBucketVersions",
      "s3:PutBucketNotification",
      "s3:PutBucketOwnershipControls",
      "s3:PutBucketPolicy",
      "s3:PutBucketPublicAccessBlock",
      "s3:PutBucketTagging",
      "s3:PutBucketVersioning",
      "s3:PutEncryptionConfiguration",
      "s3:PutLifecycleConfiguration",
    ]
    resources = [local.project_bucket_arn]
  }

  statement {
    sid = "ManageProjectObjects"
    actions = [
      "s3:AbortMultipartUpload",
      "s3:DeleteObject",
      "s3:DeleteObjectVersion",
      "s3:GetObject",
      "s3:GetObjectAttributes",
      "s3:GetObjectVersion",
      "s3:ListMultipartUploadParts",
      "s3:PutObject",
    ]
    resources = ["${local.project_bucket_arn}/*"]
  }

  statement {
    sid = "ManageProjectRepositories"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchDeleteImage",
      "ecr:BatchGetImage",
      "ecr:CompleteLayerUpload",
      "ecr:CreateRepository",
      "ecr:DeleteLifecyclePolicy",
      "ecr:DeleteRepository",
      "ecr:DescribeImages",
      "ecr:DescribeRepositories",
      "ecr:GetDownloadUrlForLayer",
      "ecr:GetLifecyclePolicy",
      "ecr:InitiateLayerUpload",
      "ecr:ListImages",
      "ecr:ListTagsForResource",
      "ecr:PutImage",
      "ecr:PutImageScanningConfiguration",
      "ecr:PutImageTagMutability",
      "ecr:PutLifecyclePolicy",
      "ecr:TagResource",
      "ecr:UntagResource",
      "ecr:UploadLayerPart",
    ]
    resources = [local.project_repository_arn]
  }

  statement {
    sid = "EcrLogin"
    # GetAuthorizationToken has no resource type: AWS accepts only "*".
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid = "ManageEndpointScaling"
    actions = [
      "application-autoscaling:DeleteScalingPolicy",
      "application-autoscaling:DeleteScheduledAction",
      "application-autoscaling:DeregisterScalableTarget",
      "application-autoscaling:ListTagsForResource",
      "application-autoscaling:PutScalingPolicy",
      "application-autoscaling:PutScheduledAction",
      "application-autoscaling:RegisterScalableTarget",
      "application-autoscaling:TagResource",
      "application-autoscaling:UntagResource",
    ]
    # Scalable-target ARNs end in an id AWS generates, not a name, and no condition key
    # carries the resource id, so the prefix cannot be pinned: the account, the region,
    # SageMaker variants and their instance count are, by ARN and condition keys.
    resources = ["arn:${local.partition}:application-autoscaling:${local.region}:${local.account}:scalable-target/*"]

    condition {
      test     = "StringEquals"
      variable = "application-autoscaling:service-namespace"
      values   = ["sagemaker"]
    }

    condition {
      test     = "StringEquals"
      variable = "application-autoscaling:scalable-dimension"
      values   = ["sagemaker:variant:DesiredInstanceCount"]
    }
  }

  statement {
    sid = "DescribeEndpointScaling"
    # The Describe* actions have no resource type: AWS accepts only "*".
    actions = [
      "application-autoscaling:DescribeScalableTargets",
      "application-autoscaling:DescribeScalingActivities",
      "application-autoscaling:DescribeScalingPolicies",
      "application-autoscaling:DescribeScheduledActions",
    ]
    resources = ["*"]
  }

  statement {
    sid       = "CreateAutoScalingServiceLinkedRole"
    actions   = ["iam:CreateServiceLinkedRole"]
    resources = ["arn:${local.partition}:iam::${local.account}:role/aws-service-role/${local.autoscaling_slr_service}/AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"]

    condition {
      test     = "StringEquals"
      variable = "iam:AWSServiceName"
      values   = [local.autoscaling_slr_service]
    }
  }

  statement {
    sid = "ManageProjectAlarms"
    actions = [
      "cloudwatch:DeleteAlarms",
      "cloudwatch:DescribeAlarms",
      "cloudwatch:ListTagsForResource",
      "cloudwatch:PutMetricAlarm",
      "cloudwatch:TagResource",
      "cloudwatch:UntagResource",
    ]
    resources = local.project_alarm_arns
  }

  statement {
    sid = "ReadEndpointMetrics"
    # Metric reads have no resource type: AWS accepts only "*".
    actions   = ["cloudwatch:GetMetricData", "cloudwatch:GetMetricStatistics"]
    resources = ["*"]
  }

  statement {
    sid = "ReadEndpointQuotas"
    # Preflight compares "<type> for endpoint usage" with the fleet it needs. The quota
    # reads have no resource-level scoping on the default quotas, so AWS accepts only "*".
    actions = [
      "servicequotas:GetAWSDefaultServiceQuota",
      "servicequotas:GetServiceQuota",
      "servicequotas:ListServiceQuotas",
    ]
    resources = ["*"]
  }

  statement {
    sid       = "ReadEndpointLogs"
    actions   = ["logs:DescribeLogStreams", "logs:GetLogEvents", "logs:FilterLogEvents"]
    resources = [local.sagemaker_log_group_arn, "${local.sagemaker_log_group_arn}:log-stream:*"]
  }
}

resource "aws_iam_policy" "deployer" {
  name        = "${local.prefix}-deployer"
  description = "Lets the ${local.prefix} deployer manage only the project's SageMaker, ECR, S3, scaling and alarm resources."
  policy      = data.aws_iam_policy_document.deployer.json

  tags = var.tags
}

# The policy reaches the user through a group, not a user attachment: a second
# deployer, or a replacement identity, joins the group instead of collecting its own
# attachments, and removing it from the group revokes everything at once.
resource "aws_iam_group" "deployers" {
  name = "${local.prefix}-deployers"
}

resource "aws_iam_group_policy_attachment" "deployers" {
  group      = aws_iam_group.deployers.name
  policy_arn = aws_iam_policy.deployer.arn
}

resource "aws_iam_user_group_membership" "deployer" {
  user   = aws_iam_user.deployer.name
  groups = [aws_iam_group.deployers.name]
}
