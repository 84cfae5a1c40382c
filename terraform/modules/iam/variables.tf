variable "name_prefix" {
  description = "Project prefix every deployed resource name starts with (3-24 lowercase letters, digits or hyphens, starting with a letter). The deployer can touch nothing else."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,22}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-24 lowercase letters, digits or hyphens, starting with a letter and ending with a letter or digit."
  }
}

variable "artifact_bucket_name" {
  description = "Name of the model-artifact bucket the main stack creates; the execution role may read only this bucket. Must start with name_prefix."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.artifact_bucket_name))
    error_message = "artifact_bucket_name must be a valid S3 bucket name (3-63 lowercase letters, digits, '.' or '-')."
  }
}

variable "repository_name" {
  description = "Exact name of the ECR repository the main stack creates; the deployer manages only it, the execution role pulls from it."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9._/-]{1,255}$", var.repository_name))
    error_message = "repository_name must be an ECR repository name (lowercase letters, digits, '.', '_', '-', '/')."
  }
}

variable "terraform_state" {
  description = "The main stack's S3 state: bucket and key. The deployer may read and write only that key and its .tflock, and nothing else of the bucket. null when no S3 state is used."
  type = object({
    bucket = string
    key    = string
  })
  default = null

  validation {
    condition = var.terraform_state == null || (
      can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.terraform_state.bucket)) &&
      can(regex("^[^*?]+[.]tfstate$", var.terraform_state.key))
    )
    error_message = "terraform_state must name an S3 bucket and a key ending in .tfstate, without wildcards."
  }
}

variable "project_tag_key" {
  description = "Tag key whose value, name_prefix, marks the project's resources; tags must carry it. The deployer touches generated names (models, configs, scalable targets, alarms) only while they carry it."
  type        = string
  default     = "project"
  nullable    = false
}

variable "image_repository_names" {
  description = "ECR repositories (outside the project) the execution role may pull from, e.g. the Hugging Face TGI DLC repository."
  type        = list(string)
  default     = ["huggingface-pytorch-tgi-inference"]
  nullable    = false

  validation {
    condition     = alltrue([for name in var.image_repository_names : can(regex("^[a-z0-9][a-z0-9._/-]{1,255}$", name))])
    error_message = "image_repository_names must hold ECR repository names (lowercase letters, digits, '.', '_', '-', '/')."
  }
}

variable "create_access_key" {
  description = "Create an access key for the deployer user (true), or leave key management to you (false)."
  type        = bool
  default     = true
  nullable    = false
}

variable "tags" {
  description = "Tags applied to every taggable resource."
  type        = map(string)
  default     = {}
  nullable    = false
}
