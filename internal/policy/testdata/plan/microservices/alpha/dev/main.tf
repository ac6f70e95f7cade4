terraform {
  backend "gcs" {}
}

resource "google_storage_bucket" "data" {
  name                        = "alpha-dev-data"
  location                    = "EU"
  uniform_bucket_level_access = true
  labels                      = { service = "alpha", env = "dev", owner = "team-alpha" }
}

module "store" {
  source = "../../../modules/store"
}

resource "terraform_data" "marker" {
  count = 2
  input = count.index
}
