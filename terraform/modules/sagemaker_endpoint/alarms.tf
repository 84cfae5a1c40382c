# Alarms on the production variant. Each one is switched on its own; the enabled ones are
# named in the endpoint's auto_rollback_configuration (main.tf), so a blue/green update
# that trips any of them during its baking period goes back to the old fleet.
# treat_missing_data = notBreaching: an idle endpoint emits no datapoints and is healthy.

locals {
  # var.name, not the endpoint's attribute: the endpoint names these alarms, so they come first.
  alarm_dimensions = {
    EndpointName = var.name
    VariantName  = var.variant_name
  }

  # SageMaker reports both latencies in microseconds.
  microseconds_per_ms = 1000
  microseconds_per_s  = 1000000
}

resource "aws_cloudwatch_metric_alarm" "invocation_5xx" {
  count = var.alarms.invocation_5xx_enabled ? 1 : 0

  alarm_name          = "${var.name}-invocation-5xx-errors"
  alarm_description   = "The model container of ${var.name} answers with 5xx errors."
  namespace           = "AWS/SageMaker"
  metric_name         = "Invocation5XXErrors"
  dimensions          = local.alarm_dimensions
  statistic           = "Sum"
  period              = var.alarms.period_seconds
  evaluation_periods  = var.alarms.evaluation_periods
  threshold           = var.alarms.invocation_5xx_threshold
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "latency_p99" {
  count = var.alarms.latency_p99_enabled ? 1 : 0

  alarm_name          = "${var.name}-model-latency-p99"
  alarm_description   = "p99 ModelLatency of ${var.name} is above ${var.alarms.latency_p99_threshold_ms} ms."
  namespace           = "AWS/SageMaker"
  metric_name         = "ModelLatency"
  dimensions          = local.alarm_dimensions
  extended_statistic  = "p99"
  period              = var.alarms.period_seconds
  evaluation_periods  = var.alarms.evaluation_periods
  threshold           = var.alarms.latency_p99_threshold_ms * local.microseconds_per_ms
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "setup_time" {
  count = var.alarms.setup_time_enabled ? 1 : 0

  alarm_name          = "${var.name}-model-setup-time"
  alarm_description   = "New instances of ${var.name} take more than ${var.alarms.setup_time_threshold_seconds} s to set up."
  namespace           = "AWS/SageMaker"
  metric_name         = "ModelSetupTime"
  dimensions          = local.alarm_dimensions
  statistic           = "Maximum"
  period              = var.alarms.period_seconds
  evaluation_periods  = 1
  threshold           = var.alarms.setup_time_threshold_seconds * local.microseconds_per_s
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"

  tags = var.tags
}

locals {
  rollback_alarm_names = concat(
    aws_cloudwatch_metric_alarm.invocation_5xx[*].alarm_name,
    aws_cloudwatch_metric_alarm.latency_p99[*].alarm_name,
    aws_cloudwatch_metric_alarm.setup_time[*].alarm_name,
  )
}
