# The one owner of the names both stacks need: the bootstrap grants the deployer these
# exact names, and the main stack creates resources under them. Exact names, not
# "<prefix>-*" patterns: a pattern would also match every project whose prefix starts
# with "<prefix>-" (llm-twin-staging for llm-twin).

locals {
  artifact_bucket = "${var.name_prefix}-artifacts-${var.account_id}-${var.region}"
  repository      = "${var.name_prefix}-inference"
}
