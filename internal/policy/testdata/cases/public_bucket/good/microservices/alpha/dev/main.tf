terraform {
  backend "gcs" {}
}

resource "google_storage_bucket_iam_member" "readers" {
  bucket = "alpha-dev-assets"
  role   = "roles/storage.objectViewer"
  member = "group:alpha-readers@acme.com"
}
