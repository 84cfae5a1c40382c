# Who owns the instance count: with autoscaling on, the scalable target does.
# The endpoint config only seeds it (initial_instance_count = min_capacity), and
# SageMaker keeps the live count across UpdateEndpoint while a scalable target is
# registered, so Terraform never fights Application Auto Scaling over it.
# Every resource here is gated on the same condition, so "off" creates nothing.

resource "aws_appautoscaling_target" "this" {
  count = var.autoscaling.enabled ? 1 : 0

  service_namespace  = "sagemaker"
  resource_id        = "endpoint/${aws_sagemaker_endpoint.this.name}/variant/${var.variant_name}"
  scalable_dimension = "sagemaker:variant:DesiredInstanceCount"
  min_capacity       = var.autoscaling.min_capacity
  max_capacity       = var.autoscaling.max_capacity

  tags = var.tags
}

resource "aws_appautoscaling_policy" "invocations_per_instance" {
  count = var.autoscaling.enabled ? 1 : 0

  name               = "${var.name}-invocations-per-instance"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this[0].service_namespace
  resource_id        = aws_appautoscaling_target.this[0].resource_id
  scalable_dimension = aws_appautoscaling_target.this[0].scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.autoscaling.target_invocations_per_instance
    scale_in_cooldown  = var.autoscaling.scale_in_cooldown
    scale_out_cooldown = var.autoscaling.scale_out_cooldown

    predefined_metric_specification {
      predefined_metric_type = "SageMakerVariantInvocationsPerInstance"
    }
  }
}

# Outside working hours the variant is held at min_capacity (max_capacity = min_capacity),
# whatever the load; in them the target's normal bounds come back and target tracking scales
# within them again. Gated on autoscaling too: the actions act on its scalable target.
# On AWS a fired action changes the target's bounds, so an apply made outside working hours
# restores the normal bounds until the next scale-in.
locals {
  scheduled_scaling_enabled = var.autoscaling.enabled && var.scheduled_scaling.enabled
}

resource "aws_appautoscaling_scheduled_action" "scale_in" {
  count = local.scheduled_scaling_enabled ? 1 : 0

  name               = "${var.name}-scale-in"
  service_namespace  = aws_appautoscaling_target.this[0].service_namespace
  resource_id        = aws_appautoscaling_target.this[0].resource_id
  scalable_dimension = aws_appautoscaling_target.this[0].scalable_dimension
  schedule           = var.scheduled_scaling.scale_in_cron
  timezone           = var.scheduled_scaling.timezone

  scalable_target_action {
    min_capacity = var.autoscaling.min_capacity
    max_capacity = var.autoscaling.min_capacity
  }
}

resource "aws_appautoscaling_scheduled_action" "scale_out" {
  count = local.scheduled_scaling_enabled ? 1 : 0

  name               = "${var.name}-scale-out"
  service_namespace  = aws_appautoscaling_target.this[0].service_namespace
  resource_id        = aws_appautoscaling_target.this[0].resource_id
  scalable_dimension = aws_appautoscaling_target.this[0].scalable_dimension
  schedule           = var.scheduled_scaling.scale_out_cron
  timezone           = var.scheduled_scaling.timezone

  scalable_target_action {
    min_capacity = var.autoscaling.min_capacity
    max_capacity = var.autoscaling.max_capacity
  }

  # Application Auto Scaling rejects concurrent PutScheduledAction calls on one target.
  depends_on = [aws_appautoscaling_scheduled_action.scale_in]
}
