# Stage 1, applied once with admin credentials: the narrow deployer identity and
# the SageMaker execution role. The main stack is then applied as the deployer.

provider "aws" {
  region            = var.region
  s3_use_path_style = var.s3_use_path_style
}

data "aws_caller_identity" "current" {}

# Named here, created by the main stack: the deployer's policy grants these exact names.
module "names" {
  source = "../modules/names"

  name_prefix = var.name_prefix
  account_id  = data.aws_caller_identity.current.account_id
  region      = var.region
}

module "iam" {
  source = "../modules/iam"

  name_prefix          = var.name_prefix
  artifact_bucket_name = module.names.artifact_bucket
  repository_name      = module.names.repository
  terraform_state      = var.main_state

  tags = var.tags
}
