# The service's own project per environment, <service>-<env>: tfpr's policies
# let microservices/<service>/<env> manage this project and no other.

locals {
  project_id = "${var.service}-${var.env}"
  labels = merge(var.labels, {
    service = var.service
    env     = var.env
    owner   = var.owner
  })
}

resource "google_project" "this" {
  project_id      = local.project_id
  name            = local.project_id
  billing_account = var.billing_account
  folder_id       = var.folder_id
  labels          = local.labels

  # The default network opens SSH and RDP to the internet; services bring
  # their own network or use the shared VPC.
  auto_create_network = false
  deletion_policy     = "PREVENT"
}

resource "google_project_service" "apis" {
  for_each = toset(var.apis)

  project = google_project.this.project_id
  service = each.value

  # Turning an API off breaks whatever else in the project still uses it.
  disable_on_destroy         = false
  disable_dependent_services = false
}
