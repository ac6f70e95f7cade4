# One violation of each of tfpr's HCL rules (TFPR001-TFPR012): make bench
# checks that both tfpr lint and the conftest rewrite in internal/bench/conftest
# flag them before comparing their speed on the clean corpus.
terraform {
  backend "s3" {}
  required_providers {
    evil = {
      source = "evilcorp/evil"
    }
  }
}
data "external" "x" {
  program = ["sh"]
}
module "far" {
  source = "github.com/x/y"
}
resource "google_storage_bucket" "b" {
  name    = "b"
  project = "other-prod"
}
resource "google_storage_bucket_iam_member" "pub" {
  bucket = "b"
  role   = "roles/storage.objectViewer"
  member = "allUsers"
}
resource "google_project_iam_binding" "b" {
  project = "alpha-dev"
  role    = "roles/editor"
  members = []
}
resource "google_project_iam_member" "m" {
  project = "alpha-dev"
  role    = "roles/owner"
  member  = "user:x@example.com"
}
resource "google_service_account_key" "k" {
  service_account_id = "x"
}
resource "google_compute_firewall" "ssh" {
  name          = "ssh"
  network       = "default"
  source_ranges = ["0.0.0.0/0"]
  allow {
    protocol = "tcp"
    ports    = ["20-30"]
  }
}
resource "aws_s3_bucket" "x" {}
