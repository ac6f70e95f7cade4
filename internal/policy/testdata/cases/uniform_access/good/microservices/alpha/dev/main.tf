terraform {
  backend "gcs" {}
}

resource "google_storage_bucket" "assets" {
  name                        = "alpha-dev-assets"
  location                    = "EU"
  uniform_bucket_level_access = true
  labels                      = { service = "alpha", env = "dev", owner = "team-alpha" }
}
