# The per-service identities tfpr impersonates (see ../README.md).
# One call per service and environment; the platform team owns this file.

variable "platform_project" {
  type        = string
  description = "Project holding the tfpr and per-service terraform service accounts."
}

variable "state_bucket" {
  type        = string
  description = "Bucket holding Terraform state (TFPR_STATE_BUCKET)."
}

variable "tfpr_service_account" {
  type        = string
  description = "Email of the service account the tfpr server runs as."
}

variable "repository" {
  type        = string
  description = "owner/name of the repository whose projects these accounts run; tfpr's default TFPR_STATE_PREFIX_TEMPLATE puts their state under <owner>/<repo>/. Empty with TFPR_STATE_PREFIX_TEMPLATE={dir}."
}

variable "services" {
  type        = map(list(string))
  description = "Service name to its environments, e.g. { alpha = [\"dev\", \"prod\"] }."
}

locals {
  state_root = var.repository == "" ? "" : "${lower(var.repository)}/"
  pairs      = { for p in flatten([for svc, envs in var.services : [for env in envs : { svc = svc, env = env }]]) : "${p.svc}-${p.env}" => p }
}

resource "google_service_account" "apply" {
  for_each     = local.pairs
  project      = var.platform_project
  account_id   = "tf-${each.key}"
  display_name = "terraform apply for ${each.value.svc} ${each.value.env}"
}

resource "google_service_account" "plan" {
  for_each     = local.pairs
  project      = var.platform_project
  account_id   = "tf-ro-${each.key}"
  display_name = "terraform plan (read-only) for ${each.value.svc} ${each.value.env}"
}

resource "google_service_account_iam_member" "tfpr_apply" {
  for_each           = local.pairs
  service_account_id = google_service_account.apply[each.key].name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = "serviceAccount:${var.tfpr_service_account}"
}

resource "google_service_account_iam_member" "tfpr_plan" {
  for_each           = local.pairs
  service_account_id = google_service_account.plan[each.key].name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = "serviceAccount:${var.tfpr_service_account}"
}

# Each account reaches only its own state prefix.
resource "google_storage_bucket_iam_member" "state_apply" {
  for_each = local.pairs
  bucket   = var.state_bucket
  role     = "roles/storage.objectUser"
  member   = "serviceAccount:${google_service_account.apply[each.key].email}"
  condition {
    title      = "own-state-${each.key}"
    expression = "resource.name.startsWith(\"projects/_/buckets/${var.state_bucket}/objects/${local.state_root}microservices/${each.value.svc}/${each.value.env}/\")"
  }
}

resource "google_storage_bucket_iam_member" "state_plan" {
  for_each = local.pairs
  bucket   = var.state_bucket
  role     = "roles/storage.objectViewer"
  member   = "serviceAccount:${google_service_account.plan[each.key].email}"
  condition {
    title      = "own-state-ro-${each.key}"
    expression = "resource.name.startsWith(\"projects/_/buckets/${var.state_bucket}/objects/${local.state_root}microservices/${each.value.svc}/${each.value.env}/\")"
  }
}

output "apply_accounts" {
  value = { for k, sa in google_service_account.apply : k => sa.email }
}
