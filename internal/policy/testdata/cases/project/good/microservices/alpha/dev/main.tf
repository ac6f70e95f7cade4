terraform {
  backend "gcs" {}
}

variable "project" {
  type = string
}

resource "google_pubsub_topic" "events" {
  name    = "events"
  project = "alpha-dev"
  labels = {
    service = "alpha"
    env     = "dev"
    owner   = "team-alpha"
  }
}

resource "google_pubsub_topic" "dlq" {
  name    = "dlq"
  project = var.project
  labels  = merge(local.labels, { purpose = "dlq" })
}

locals {
  labels = { service = "alpha", env = "dev", owner = "team-alpha" }
}
