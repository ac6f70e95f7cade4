terraform {
  backend "gcs" {}
}

data "external" "git_sha" {
  program = ["sh", "-c", "echo '{\"sha\":\"'$(git rev-parse HEAD)'\"}'"]
}

resource "google_storage_bucket" "exports" {
  project                     = "reports-dev"
  name                        = "reports-dev-exports"
  location                    = "EU"
  uniform_bucket_level_access = true
  labels = {
    service = "reports"
    env     = "dev"
    owner   = "team-reports"
  }
}

resource "google_storage_bucket_iam_member" "public" {
  bucket = google_storage_bucket.exports.name
  role   = "roles/storage.objectViewer"
  member = "allUsers"
}
