terraform {
  required_version = ">= 1.9"

  # The CLI passes the state path (-backend-config=path=...), one per target.
  backend "local" {}

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100, < 7.0"
    }
  }
}
