terraform {
  backend "gcs" {}
}

resource "google_service_account" "ci" {
  account_id = "ci"
}

resource "google_service_account_key" "ci" { # expect: TFPR011
  service_account_id = google_service_account.ci.name
}
