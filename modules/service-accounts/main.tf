# The service's identities, all in its own project <service>-<env>:
#
#   app-<service>          the application (Workload Identity from its KSA)
#   tf-<service>-<env>     tfpr's applies
#   tf-ro-<service>-<env>  tfpr's plans and drift checks, read-only
#
# Every grant is on this project, this service's state prefix or these
# accounts; nothing here reaches another service.

locals {
  project       = "${var.service}-${var.env}"
  app_namespace = var.app_namespace != "" ? var.app_namespace : local.project
  runners = {
    apply = "tf-${var.service}-${var.env}"
    plan  = "tf-ro-${var.service}-${var.env}"
  }
  apply_grants = { for r in var.apply_roles : r => r }
  plan_grants  = { for r in var.plan_roles : r => r }
  app_grants   = { for r in var.app_roles : r => r }

  # The member each runner account trusts to act as it.
  executor_role = var.executor == "token-creator" ? "roles/iam.serviceAccountTokenCreator" : "roles/iam.workloadIdentityUser"
  executor_member = {
    for k, id in local.runners : k => (
      var.executor == "token-creator"
      ? "serviceAccount:${var.tfpr_service_account}"
      : "serviceAccount:${var.workload_identity_pool}[${var.run_namespace}/${id}]"
    )
  }
  state_condition = "resource.name.startsWith(\"projects/_/buckets/${var.state_bucket}/objects/${var.state_prefix}/\")"
}

resource "google_service_account" "app" {
  project      = local.project
  account_id   = "app-${var.service}"
  display_name = "${var.service} (${var.env}) application"
}

resource "google_service_account_iam_member" "app_workload_identity" {
  service_account_id = google_service_account.app.name
  role               = "roles/iam.workloadIdentityUser"
  member             = "serviceAccount:${var.workload_identity_pool}[${local.app_namespace}/${var.app_ksa}]"
}

resource "google_project_iam_member" "app" {
  for_each = local.app_grants

  project = local.project
  role    = each.value
  member  = "serviceAccount:${google_service_account.app.email}"
}

resource "google_service_account" "runner" {
  for_each = local.runners

  project      = local.project
  account_id   = each.value
  display_name = each.key == "apply" ? "tfpr apply for ${local.project}" : "tfpr plan (read-only) for ${local.project}"
}

resource "google_project_iam_member" "apply" {
  for_each = local.apply_grants

  project = local.project
  role    = each.value
  member  = "serviceAccount:${google_service_account.runner["apply"].email}"
}

# The apply account grants the application its roles and nothing else: it
# cannot widen its own rights or the plan account's.
resource "google_project_iam_member" "apply_grants_app_roles" {
  count = length(var.app_roles) > 0 ? 1 : 0

  project = local.project
  role    = "roles/resourcemanager.projectIamAdmin"
  member  = "serviceAccount:${google_service_account.runner["apply"].email}"

  condition {
    title       = "only-app-roles"
    description = "Grants limited to the application's roles"
    expression  = "api.getAttribute('iam.googleapis.com/modifiedGrantsByRole', []).hasOnly(${jsonencode(var.app_roles)})"
  }
}

resource "google_project_iam_member" "plan" {
  for_each = local.plan_grants

  project = local.project
  role    = each.value
  member  = "serviceAccount:${google_service_account.runner["plan"].email}"
}

resource "google_service_account_iam_member" "executor" {
  for_each = local.runners

  service_account_id = google_service_account.runner[each.key].name
  role               = local.executor_role
  member             = local.executor_member[each.key]

  lifecycle {
    precondition {
      condition     = var.executor != "token-creator" || var.tfpr_service_account != ""
      error_message = "executor \"token-creator\" needs tfpr_service_account."
    }
  }
}

# Each runner reaches only this service's state for this env: the apply
# account reads and writes it (and its lock), the plan account reads it
# (tfpr plans with -lock=false).
resource "google_storage_bucket_iam_member" "state" {
  for_each = local.runners

  bucket = var.state_bucket
  role   = each.key == "apply" ? "roles/storage.objectUser" : "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.runner[each.key].email}"

  condition {
    title      = "own-state-${each.value}"
    expression = local.state_condition
  }
}
