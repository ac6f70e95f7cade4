terraform {
  backend "gcs" {}
}

data "google_project" "current" {}
