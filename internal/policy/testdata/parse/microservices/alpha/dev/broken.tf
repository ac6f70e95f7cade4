terraform {
  backend "gcs" {}
}

resource "google_storage_bucket" "b" {
  name     = "alpha-dev-b"
  location = 
}
