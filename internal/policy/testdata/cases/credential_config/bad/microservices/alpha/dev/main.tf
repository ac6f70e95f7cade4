terraform {
  backend "gcs" {}
}

provider "google" {
  project                     = "alpha-dev"
  impersonate_service_account = "tf-beta-prod@platform.iam.gserviceaccount.com" # expect: credential-config
}

provider "google-beta" {
  alias                                 = "x"
  access_token                          = var.token               # expect: credential-config
  storage_custom_endpoint               = "https://evil.example/" # expect: credential-config
  impersonate_service_account_delegates = []                      # expect: credential-config
}

provider "google" {
  alias       = "file"
  credentials = "{}" # expect: credential-config
  external_credentials { # expect: credential-config
    audience = "x"
  }
}

data "terraform_remote_state" "beta" {
  backend = "gcs"
  config = {
    bucket                      = "tfpr-state"
    prefix                      = "microservices/beta/prod"
    impersonate_service_account = "tf-beta-prod@platform.iam.gserviceaccount.com" # expect: credential-config
  }
}

data "terraform_remote_state" "host" {
  backend = "local" # expect: credential-config
  config = {
    path = "/etc/hostname" # expect: credential-config
  }
}

data "terraform_remote_state" "hidden" {
  backend = "gcs"
  config  = local.cfg # expect: credential-config
}

variable "token" {
  type = string
}

locals {
  cfg = { bucket = "b" }
}
