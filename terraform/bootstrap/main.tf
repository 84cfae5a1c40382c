# Stage 1, applied once with admin credentials: the narrow deployer identity and
# the SageMaker execution role. The main stack is then applied as the deployer.

provider "aws" {
  region            = var.region
  s3_use_path_style = var.s3_use_path_style
}

data "aws_caller_identity" "current" {}

locals {
  # Named here, created by the main stack: the execution role may read only this bucket.
  artifact_bucket_name = "${var.name_prefix}-artifacts-${data.aws_caller_identity.current.account_id}-${var.region}"
}

module "iam" {
  source = "../modules/iam"

  name_prefix          = var.name_prefix
  artifact_bucket_name = local.artifact_bucket_name

  tags = var.tags
}
