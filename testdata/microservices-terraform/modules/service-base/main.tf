# The shared local module every service of the sample calls: names and
# labels derived from <service>-<env>. It uses terraform_data only, so the
# sample plans and applies without downloading a provider.

variable "service" {
  type        = string
  description = "Service id."
}

variable "env" {
  type        = string
  description = "Environment."
}

variable "owner" {
  type        = string
  description = "Owning team."
}

locals {
  project = "${var.service}-${var.env}"
  labels = {
    service = var.service
    env     = var.env
    owner   = var.owner
  }
}

resource "terraform_data" "identity" {
  input = {
    project = local.project
    apply   = "tf-${local.project}"
    plan    = "tf-ro-${local.project}"
  }
}

output "project" {
  value = local.project
}

output "labels" {
  value = local.labels
}

output "runner" {
  value = terraform_data.identity.output.apply
}
