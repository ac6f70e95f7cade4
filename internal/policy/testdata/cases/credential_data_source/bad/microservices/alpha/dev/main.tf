terraform {
  backend "gcs" {}
}

data "google_client_config" "me" {} # expect: credential-data-source

data "google_service_account_access_token" "beta" { # expect: credential-data-source
  provider               = google-beta
  target_service_account = "tf-beta-prod@platform.iam.gserviceaccount.com"
  scopes                 = ["cloud-platform"]
}

check "token" {
  data "google_service_account_id_token" "beta" { # expect: credential-data-source
    target_audience = "https://example.com"
  }
  assert {
    condition     = true
    error_message = "never"
  }
}

ephemeral "google_service_account_jwt" "beta" { # expect: credential-data-source
  target_service_account = "tf-beta-prod@platform.iam.gserviceaccount.com"
  payload                = "{}"
}

output "token" {
  value     = data.google_client_config.me.access_token
  sensitive = true
}
