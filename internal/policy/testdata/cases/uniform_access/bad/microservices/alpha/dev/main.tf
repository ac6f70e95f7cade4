terraform {
  backend "gcs" {}
}

resource "google_storage_bucket" "assets" {
  name                        = "alpha-dev-assets"
  location                    = "EU"
  uniform_bucket_level_access = false # expect: TFPR008
  labels                      = { service = "alpha", env = "dev", owner = "team-alpha" }
}

resource "google_storage_bucket" "logs" { # expect: TFPR008
  name     = "alpha-dev-logs"
  location = "EU"
  labels   = { service = "alpha", env = "dev", owner = "team-alpha" }
}
