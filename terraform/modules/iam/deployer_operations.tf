################################################################################
# Deployer, operations: scaling, alarms, metrics, quotas and logs of the endpoint
# (the policy document; the policy and its attachment are in deployer.tf)
################################################################################

data "aws_iam_policy_document" "deployer_operations" {
  # -- Application Auto Scaling: SageMaker variants whose target carries the project tag.
  # A scalable target's ARN ends in an id AWS generates and no key carries the endpoint
  # name, so the tag is what names the project's targets. --

  statement {
    sid       = "RegisterProjectScalableTargets"
    actions   = ["application-autoscaling:RegisterScalableTarget"]
    resources = [local.scalable_target_arn]

    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/${local.project_tag.key}"
      values   = [local.project_tag.value]
    }

    # A new target has no tags yet; an existing one must already be the project's.
    condition {
      test     = "StringEqualsIfExists"
      variable = "aws:ResourceTag/${local.project_tag.key}"
      values   = [local.project_tag.value]
    }

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
    sid = "ManageProjectScaling"
    actions = [
      "application-autoscaling:DeleteScalingPolicy",
      "application-autoscaling:DeleteScheduledAction",
      "application-autoscaling:DeregisterScalableTarget",
      "application-autoscaling:PutScalingPolicy",
      "application-autoscaling:PutScheduledAction",
      # Updates re-register without tags: the target's own tag decides.
      "application-autoscaling:RegisterScalableTarget",
    ]
    resources = [local.scalable_target_arn]

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/${local.project_tag.key}"
      values   = [local.project_tag.value]
    }

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
    sid = "TagProjectScalableTargets"
    # The tag actions carry no namespace or dimension keys: only the tag can scope them.
    actions   = ["application-autoscaling:TagResource", "application-autoscaling:UntagResource"]
    resources = [local.scalable_target_arn]

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/${local.project_tag.key}"
      values   = [local.project_tag.value]
    }
  }

  statement {
    sid = "ReadScalableTargetTags"
    # The provider lists a target's tags on every read.
    actions   = ["application-autoscaling:ListTagsForResource"]
    resources = [local.scalable_target_arn]
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

  # -- CloudWatch: the project's alarms by tag; target tracking's by name --

  statement {
    sid       = "PutProjectAlarms"
    actions   = ["cloudwatch:PutMetricAlarm"]
    resources = [local.alarm_arn]

    # The provider sends the tags on every PutMetricAlarm, create and update alike.
    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/${local.project_tag.key}"
      values   = [local.project_tag.value]
    }

    condition {
      test     = "StringEqualsIfExists"
      variable = "aws:ResourceTag/${local.project_tag.key}"
      values   = [local.project_tag.value]
    }
  }

  statement {
    sid       = "ManageProjectAlarms"
    actions   = ["cloudwatch:DeleteAlarms", "cloudwatch:TagResource", "cloudwatch:UntagResource"]
    resources = [local.alarm_arn]

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/${local.project_tag.key}"
      values   = [local.project_tag.value]
    }
  }

  statement {
    sid       = "ManageTargetTrackingAlarms"
    actions   = ["cloudwatch:DeleteAlarms", "cloudwatch:PutMetricAlarm"]
    resources = [local.target_tracking_alarm_arn]
  }

  statement {
    sid       = "ReadProjectAlarms"
    actions   = ["cloudwatch:DescribeAlarms", "cloudwatch:ListTagsForResource"]
    resources = [local.alarm_arn, local.target_tracking_alarm_arn]
  }

  statement {
    sid = "ReadEndpointMetrics"
    # Metric reads have no resource type: AWS accepts only "*".
    actions   = ["cloudwatch:GetMetricData", "cloudwatch:GetMetricStatistics"]
    resources = ["*"]
  }

  # -- Preflight and status reads --

  statement {
    sid = "ReadSageMakerQuotas"
    # Preflight compares "<type> for endpoint usage" with the fleet it needs.
    actions   = ["servicequotas:GetServiceQuota"]
    resources = ["arn:${local.partition}:servicequotas:${local.region}:${local.account}:sagemaker/*"]
  }

  statement {
    sid = "ListQuotas"
    # These two have no resource type: AWS accepts only "*".
    actions   = ["servicequotas:GetAWSDefaultServiceQuota", "servicequotas:ListServiceQuotas"]
    resources = ["*"]
  }

  statement {
    sid       = "ReadEndpointLogGroups"
    actions   = ["logs:DescribeLogStreams", "logs:FilterLogEvents"]
    resources = [local.sagemaker_log_group_arn]
  }

  statement {
    sid       = "ReadEndpointLogStreams"
    actions   = ["logs:GetLogEvents"]
    resources = [local.sagemaker_log_stream_arn]
  }
}
