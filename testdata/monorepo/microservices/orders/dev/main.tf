terraform {
  backend "gcs" {}
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.0"
    }
  }
}

provider "google" {
  project = "orders-dev"
  region  = "europe-west1"
}

module "naming" {
  source  = "../../../modules/naming"
  service = "orders"
  env     = "dev"
}

resource "google_pubsub_topic" "orders" {
  project = "orders-dev"
  name    = "${module.naming.prefix}-orders"
  labels = {
    service = "orders"
    env     = "dev"
    owner   = "team-orders"
  }
}
