terraform {
  backend "gcs" {}
}

data "google_project" "current" {}

check "network" {
  data "google_compute_network" "default" {
    name = "default"
  }
  assert {
    condition     = data.google_compute_network.default.id != ""
    error_message = "no default network"
  }
}
