# The provider's table of prebuilt images (5.100.0) has no huggingface-vllm repository, so a
# vLLM image always comes as image_uri, rendered by the CLI from the same catalogue.
data "aws_sagemaker_prebuilt_ecr_image" "tgi" {
  count = var.backend == "tgi" && var.image_uri == null ? 1 : 0

  repository_name = "huggingface-pytorch-tgi-inference"
  image_tag       = var.tgi_image_tag

  lifecycle {
    precondition {
      condition     = var.tgi_image_tag != null
      error_message = "tgi_image_tag is needed when image_uri is null: the image is looked up by it."
    }
  }
}

locals {
  image = var.image_uri != null ? var.image_uri : one(data.aws_sagemaker_prebuilt_ecr_image.tgi[*].registry_path)

  # With autoscaling on, the scalable target owns the live instance count (see autoscaling.tf).
  initial_instance_count = var.autoscaling.enabled ? var.autoscaling.min_capacity : var.instance_count

  # aws_sagemaker_model has no name_prefix, and every model argument forces replacement.
  # A name derived from the model's content gives each version its own name, so
  # create_before_destroy can build the new model while the old one still serves.
  # The token enters only as its SHA-256, so the name never reveals it.
  model_fingerprint = substr(sha256(jsonencode({
    image       = local.image
    environment = local.environment
    token       = nonsensitive(sha256(coalesce(var.hf_token, "none")))
    model_data  = var.model_data_s3_uri
    role        = var.execution_role_arn
  })), 0, 8)
}

resource "aws_sagemaker_model" "this" {
  name               = "${substr(var.name, 0, 54)}-${local.model_fingerprint}"
  execution_role_arn = var.execution_role_arn

  primary_container {
    image = local.image
    environment = var.hf_token == null ? local.environment : merge(local.environment, {
      HF_TOKEN = var.hf_token
    })

    dynamic "model_data_source" {
      for_each = var.model_data_s3_uri == null ? [] : [var.model_data_s3_uri]

      content {
        s3_data_source {
          s3_uri           = model_data_source.value
          s3_data_type     = "S3Prefix"
          compression_type = "None"
        }
      }
    }
  }

  tags = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_sagemaker_endpoint_configuration" "this" {
  # Every argument here forces replacement: a unique name plus create_before_destroy
  # lets the endpoint switch to the new config before the old one is deleted.
  name_prefix = "${substr(var.name, 0, 36)}-"

  production_variants {
    variant_name           = var.variant_name
    model_name             = aws_sagemaker_model.this.name
    instance_type          = var.instance_type
    initial_instance_count = local.initial_instance_count
    volume_size_in_gb      = var.volume_size_in_gb

    # These belong on the variant; as container env vars they would do nothing.
    container_startup_health_check_timeout_in_seconds = var.container_startup_health_check_timeout_in_seconds
    model_data_download_timeout_in_seconds            = var.model_data_download_timeout_in_seconds
  }

  # Generations past the 60-second real-time limit: InvokeEndpointAsync queues the request
  # and SageMaker writes the answer (or the error) under the artifact bucket.
  dynamic "async_inference_config" {
    for_each = var.async_inference.enabled ? [var.async_inference] : []

    content {
      client_config {
        max_concurrent_invocations_per_instance = async_inference_config.value.max_concurrent_invocations_per_instance
      }

      output_config {
        s3_output_path  = async_inference_config.value.output_s3_uri
        s3_failure_path = async_inference_config.value.failure_s3_uri
      }
    }
  }

  tags = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_sagemaker_endpoint" "this" {
  name                 = var.name
  endpoint_config_name = aws_sagemaker_endpoint_configuration.this.name

  # Blue/green: SageMaker builds the new fleet, shifts traffic to it (at once, by a canary
  # or in linear steps), bakes, and goes back to the old fleet if an alarm fires meanwhile.
  dynamic "deployment_config" {
    for_each = var.rollout.mode == "none" ? [] : [var.rollout]

    content {
      blue_green_update_policy {
        termination_wait_in_seconds = deployment_config.value.termination_wait_in_seconds

        traffic_routing_configuration {
          type                     = upper(deployment_config.value.mode)
          wait_interval_in_seconds = deployment_config.value.wait_interval_in_seconds

          dynamic "canary_size" {
            for_each = deployment_config.value.mode == "canary" ? [deployment_config.value.canary_percent] : []

            content {
              type  = "CAPACITY_PERCENT"
              value = canary_size.value
            }
          }

          dynamic "linear_step_size" {
            for_each = deployment_config.value.mode == "linear" ? [deployment_config.value.linear_step_percent] : []

            content {
              type  = "CAPACITY_PERCENT"
              value = linear_step_size.value
            }
          }
        }
      }

      dynamic "auto_rollback_configuration" {
        for_each = length(local.rollback_alarm_names) > 0 ? [local.rollback_alarm_names] : []

        content {
          dynamic "alarms" {
            for_each = auto_rollback_configuration.value

            content {
              alarm_name = alarms.value
            }
          }
        }
      }
    }
  }

  tags = var.tags
}
