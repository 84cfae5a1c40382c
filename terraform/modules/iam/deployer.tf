################################################################################
# Deployer: the narrow identity the main stack is applied with
#
# Scoped three ways, whichever AWS supports for the action (tests/terraform_code/
# test_iam_reference.py checks each against AWS's tables):
# - exact names where they are fixed (the artifact bucket, the repository, the state);
# - the project tag (aws:RequestTag on create, aws:ResourceTag after) where names are
#   generated, since "<prefix>-*" alone also matches another project's "<prefix>-x-*";
# - "*" only for actions that have no resource type.
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
  # -- SageMaker: created with the project tag, then touched only while they carry it --

  dynamic "statement" {
    for_each = {
      CreateProjectModels          = ["sagemaker:CreateModel", local.sagemaker_arns["model"]]
      CreateProjectEndpointConfigs = ["sagemaker:CreateEndpointConfig", local.sagemaker_arns["endpoint-config"]]
      CreateProjectEndpoints       = ["sagemaker:CreateEndpoint", local.sagemaker_arns["endpoint"]]
    }

    content {
      sid       = statement.key
      actions   = [statement.value[0]]
      resources = [statement.value[1]]

      condition {
        test     = "StringEquals"
        variable = "aws:RequestTag/${local.project_tag.key}"
        values   = [local.project_tag.value]
      }
    }
  }

  statement {
    sid = "TagProjectSageMakerOnCreate"
    # SageMaker authorizes the tags of a Create* call as a separate sagemaker:AddTags.
    actions   = ["sagemaker:AddTags"]
    resources = values(local.sagemaker_arns)

    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/${local.project_tag.key}"
      values   = [local.project_tag.value]
    }

    condition {
      test     = "StringEquals"
      variable = "sagemaker:TaggingAction"
      values   = ["CreateModel", "CreateEndpointConfig", "CreateEndpoint"]
    }
  }

  dynamic "statement" {
    for_each = {
      ManageProjectModels          = [local.sagemaker_arns["model"], ["sagemaker:DeleteModel"]]
      ManageProjectEndpointConfigs = [local.sagemaker_arns["endpoint-config"], ["sagemaker:CreateEndpoint", "sagemaker:DeleteEndpointConfig", "sagemaker:UpdateEndpoint"]]
      ManageProjectEndpoints = [local.sagemaker_arns["endpoint"], [
        "sagemaker:DeleteEndpoint",
        "sagemaker:InvokeEndpoint",
        "sagemaker:InvokeEndpointAsync",
        "sagemaker:InvokeEndpointWithResponseStream",
        "sagemaker:UpdateEndpoint",
        "sagemaker:UpdateEndpointWeightsAndCapacities",
      ]]
    }

    content {
      sid       = statement.key
      actions   = statement.value[1]
      resources = [statement.value[0]]

      condition {
        test     = "StringEquals"
        variable = "aws:ResourceTag/${local.project_tag.key}"
        values   = [local.project_tag.value]
      }
    }
  }

  statement {
    sid       = "RetagProjectSageMaker"
    actions   = ["sagemaker:AddTags", "sagemaker:DeleteTags"]
    resources = values(local.sagemaker_arns)

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/${local.project_tag.key}"
      values   = [local.project_tag.value]
    }
  }

  dynamic "statement" {
    for_each = {
      ReadProjectModels          = [local.sagemaker_arns["model"], "sagemaker:DescribeModel"]
      ReadProjectEndpointConfigs = [local.sagemaker_arns["endpoint-config"], "sagemaker:DescribeEndpointConfig"]
      ReadProjectEndpoints       = [local.sagemaker_arns["endpoint"], "sagemaker:DescribeEndpoint"]
    }

    content {
      sid       = statement.key
      actions   = [statement.value[1], "sagemaker:ListTags"]
      resources = [statement.value[0]]
    }
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

  # -- S3: the artifact bucket by its exact name --

  statement {
    sid = "ManageArtifactBucket"
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
    resources = [local.artifact_bucket_arn]
  }

  statement {
    sid = "ManageArtifactObjects"
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
    resources = ["${local.artifact_bucket_arn}/*"]
  }

  # -- Terraform state: the main stack's key and its lock, nothing else of the bucket --
  # The bootstrap's state and every bucket setting (versioning, policy, public access
  # block, encryption) stay the admin's: with them, the deployer could steer the next
  # admin run.

  dynamic "statement" {
    for_each = var.terraform_state == null ? [] : [1]

    content {
      sid       = "ListStateBucket"
      actions   = ["s3:ListBucket"]
      resources = [local.state_bucket_arn]
    }
  }

  dynamic "statement" {
    for_each = var.terraform_state == null ? [] : [1]

    content {
      sid       = "ReadWriteMainState"
      actions   = ["s3:GetObject", "s3:PutObject"]
      resources = ["${local.state_bucket_arn}/${var.terraform_state.key}", "${local.state_bucket_arn}/${var.terraform_state.key}.tflock"]
    }
  }

  dynamic "statement" {
    for_each = var.terraform_state == null ? [] : [1]

    content {
      sid       = "ReleaseMainStateLock"
      actions   = ["s3:DeleteObject"]
      resources = ["${local.state_bucket_arn}/${var.terraform_state.key}.tflock"]
    }
  }

  # -- ECR: the project's repository by its exact name --

  statement {
    sid = "ManageProjectRepository"
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
    resources = [local.repository_arn]
  }

  statement {
    sid = "EcrLogin"
    # GetAuthorizationToken has no resource type: AWS accepts only "*".
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }
}

# Two managed policies: one document would pass IAM's 6,144-character limit.
resource "aws_iam_policy" "deployer" {
  name        = "${local.prefix}-deployer"
  description = "Lets the ${local.prefix} deployer manage only the project's SageMaker, S3, ECR and state objects."
  policy      = data.aws_iam_policy_document.deployer.json

  tags = var.tags

  lifecycle {
    precondition {
      condition     = lookup(var.tags, var.project_tag_key, null) == var.name_prefix
      error_message = "tags must carry ${var.project_tag_key} = name_prefix: the deployer may touch only resources tagged so."
    }
  }
}

resource "aws_iam_policy" "deployer_operations" {
  name        = "${local.prefix}-deployer-operations"
  description = "Lets the ${local.prefix} deployer scale, alarm on and observe only the project's endpoint."
  policy      = data.aws_iam_policy_document.deployer_operations.json

  tags = var.tags
}

# The policies reach the user through a group, not a user attachment: a second
# deployer, or a replacement identity, joins the group instead of collecting its own
# attachments, and removing it from the group revokes everything at once.
resource "aws_iam_group" "deployers" {
  name = "${local.prefix}-deployers"
}

resource "aws_iam_group_policy_attachment" "deployers" {
  for_each = {
    deployer   = aws_iam_policy.deployer.arn
    operations = aws_iam_policy.deployer_operations.arn
  }

  group      = aws_iam_group.deployers.name
  policy_arn = each.value
}

resource "aws_iam_user_group_membership" "deployer" {
  user   = aws_iam_user.deployer.name
  groups = [aws_iam_group.deployers.name]
}
