variable "region" {
  description = "AWS region to deploy to, e.g. eu-central-1."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as eu-central-1."
  }
}

variable "name_prefix" {
  description = "Project prefix every resource name starts with (3-24 lowercase letters, digits or hyphens)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,22}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-24 lowercase letters, digits or hyphens, starting with a letter and ending with a letter or digit."
  }
}

variable "s3_use_path_style" {
  description = "Address S3 as endpoint/bucket instead of bucket.endpoint. true for the embedded local AWS, false for AWS."
  type        = bool
  default     = false
  nullable    = false
}

variable "main_state" {
  description = "Where the main stack keeps its S3 state (bucket and key), rendered by the CLI from llm_twin.state_backend; the deployer may use only that key and its lock. null without a state bucket."
  type = object({
    bucket = string
    key    = string
  })
  default = null
}

variable "tags" {
  description = "Tags applied to every taggable resource."
  type        = map(string)
  default     = {}
  nullable    = false
}
