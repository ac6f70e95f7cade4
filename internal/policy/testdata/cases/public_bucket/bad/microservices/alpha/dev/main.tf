terraform {
  backend "gcs" {}
}

resource "google_storage_bucket_iam_member" "public" {
  bucket = "alpha-dev-assets"
  role   = "roles/storage.objectViewer"
  member = "allUsers" # expect: TFPR007
}
