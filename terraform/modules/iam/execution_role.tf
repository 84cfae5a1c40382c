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
    resources = [local.artifact_bucket_arn]
  }

  statement {
    sid       = "ReadArtifactObjects"
    actions   = ["s3:GetObject"]
    resources = ["${local.artifact_bucket_arn}/*"]
  }

  statement {
    sid = "WriteAsyncInferenceResults"
    # Asynchronous inference writes each answer (or its error) under async/ only.
    actions   = ["s3:PutObject", "s3:AbortMultipartUpload"]
    resources = ["${local.artifact_bucket_arn}/async/*"]
  }

  statement {
    sid     = "PullImages"
    actions = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
    resources = concat(
      [local.repository_arn],
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
    sid       = "CreateEndpointLogGroups"
    actions   = ["logs:CreateLogGroup", "logs:DescribeLogStreams"]
    resources = [local.sagemaker_log_group_arn]
  }

  statement {
    sid       = "WriteEndpointLogStreams"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = [local.sagemaker_log_stream_arn]
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
