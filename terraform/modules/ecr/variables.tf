variable "name" {
  description = "Repository name. Lowercase letters, digits and . _ - / (2-256 characters), starting with a letter or digit."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z0-9](?:[a-z0-9._/-]{1,255})$", var.name))
    error_message = "name must be 2-256 characters of lowercase letters, digits, '.', '_', '-' or '/', starting with a letter or digit."
  }
}

variable "kms_key_arn" {
  description = "KMS key ARN for image encryption. null uses AES256 (ECR-managed keys)."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be null or a KMS key ARN (arn:aws:kms:...)."
  }
}

variable "untagged_image_expiry_days" {
  description = "Untagged images are expired this many days after push (1-3650)."
  type        = number
  default     = 7
  nullable    = false

  validation {
    condition     = var.untagged_image_expiry_days >= 1 && var.untagged_image_expiry_days <= 3650 && floor(var.untagged_image_expiry_days) == var.untagged_image_expiry_days
    error_message = "untagged_image_expiry_days must be a whole number from 1 to 3650."
  }
}

variable "max_image_count" {
  description = "How many tagged images are kept; older ones are expired (1-1000)."
  type        = number
  default     = 20
  nullable    = false

  validation {
    condition     = var.max_image_count >= 1 && var.max_image_count <= 1000 && floor(var.max_image_count) == var.max_image_count
    error_message = "max_image_count must be a whole number from 1 to 1000."
  }
}

variable "force_delete" {
  description = "Delete the repository even when it still holds images (true for throwaway stacks, false to protect images)."
  type        = bool
  default     = false
  nullable    = false
}

variable "tags" {
  description = "Tags applied to every taggable resource."
  type        = map(string)
  default     = {}
  nullable    = false
}
