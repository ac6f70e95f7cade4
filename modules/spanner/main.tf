# A Spanner instance and database for the service, in its own project, with
# deletion protection on: dropping a database loses the data, so it takes a
# change that turns protection off first (and tfpr's TFPR101 approval).

locals {
  project = "${var.service}-${var.env}"
  labels = {
    service = var.service
    env     = var.env
    owner   = var.owner
  }
  database = var.database != "" ? var.database : replace(var.service, "-", "_")
}

resource "google_spanner_instance" "this" {
  project          = local.project
  name             = local.project
  display_name     = local.project
  config           = var.config
  processing_units = var.processing_units
  labels           = local.labels

  # No force_destroy: deleting the instance with its backups in place fails.
  force_destroy = false
}

resource "google_spanner_database" "this" {
  project                  = local.project
  instance                 = google_spanner_instance.this.name
  name                     = local.database
  ddl                      = var.ddl
  version_retention_period = var.version_retention_period
  deletion_protection      = true
  enable_drop_protection   = true
}
